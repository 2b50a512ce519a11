local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { breaks = { "modle" }, fields = { model = 1 } } -- HERE
return Model "m" { source = "data" }
