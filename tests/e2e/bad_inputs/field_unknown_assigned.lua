-- An unknown field set after the declaration.
-- exit: 2
-- error: pipeline.lua:@HERE: Model has no field 'modle' (did you mean 'model'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
m.modle = "x" -- HERE
return m
