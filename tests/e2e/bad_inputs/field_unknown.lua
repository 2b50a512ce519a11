-- An unknown (misspelt) field: the closest one is suggested.
-- exit: 2
-- error: pipeline.lua:@HERE: Model has no field 'modle' (did you mean 'model'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { modle = "x", source = "data" } -- HERE
return m
