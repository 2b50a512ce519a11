-- A duplicate hidden in a list field.
-- exit: 2
-- error: Model/m is defined twice with different fields: at pipeline.lua:6 and at pipeline.lua:7
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local a = Model "m" { source = "data" }
local b = Model "x" { source = { Model "m" { source = "other" } } }
return { a, b }
