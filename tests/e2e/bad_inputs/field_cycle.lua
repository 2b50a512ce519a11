-- A table that contains itself.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source.again' contains a cycle (a table that contains itself)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local t = { name = "loop" }
t.again = t
local m = Model "m" { source = t } -- HERE
return m
