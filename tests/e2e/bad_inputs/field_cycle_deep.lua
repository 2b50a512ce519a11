-- A cycle two tables deep.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source[1][1][1]' contains a cycle (a table that contains itself)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local a, b = {}, {}
a[1] = b
b[1] = a
local m = Model "m" { source = { a } } -- HERE
return m
