-- A field with the name of a method of the type.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": 'check' is the name of a method and cannot be a field
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { fields = { check = 1 }, check = function() end } -- HERE
return Model "m" { source = "data" }
