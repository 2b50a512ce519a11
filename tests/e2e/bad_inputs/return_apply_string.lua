-- ochre.apply given a string.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.apply takes a component instance or a list of them (got a string value)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.apply("Model/m") -- HERE
