local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = { "a", b = 2 } } -- HERE
return m
