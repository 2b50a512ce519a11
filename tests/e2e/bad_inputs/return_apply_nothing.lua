-- ochre.apply with nothing to apply.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.apply takes a component instance or a list of them (got nothing)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
ochre.apply() -- HERE
