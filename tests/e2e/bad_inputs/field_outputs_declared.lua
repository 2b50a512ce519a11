-- outputs cannot be declared as a field.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: 'outputs' cannot be set as a field
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data", outputs = { rows = 1 } } -- HERE
return m
