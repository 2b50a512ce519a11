-- An unknown field with no close name: the fields are listed.
-- exit: 2
-- error: pipeline.lua:@HERE: Model has no field 'zzzzzzzzzz' (its fields: model, size, source)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data", zzzzzzzzzz = 1 } -- HERE
return m
