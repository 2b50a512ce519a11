-- An identifier changed after the declaration.
-- exit: 2
-- error: pipeline.lua:@HERE: the identifier of Model/m cannot change
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
m.identifier = "n" -- HERE
return m
