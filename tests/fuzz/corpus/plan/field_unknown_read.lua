local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local s = m.sise -- HERE
return m
