local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local a = Model "m" { source = "data" }
local b = Model "m" { source = "other" }
return { a, b }
