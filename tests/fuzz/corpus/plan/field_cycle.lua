local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local t = { name = "loop" }
t.again = t
local m = Model "m" { source = t } -- HERE
return m
