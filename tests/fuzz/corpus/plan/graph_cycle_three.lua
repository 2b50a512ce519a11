local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local a = Model "a" { source = "data" }
local b = Model "b" { source = { a } }
local c = Model "c" { source = { b } }
a.source = { c }
return c
