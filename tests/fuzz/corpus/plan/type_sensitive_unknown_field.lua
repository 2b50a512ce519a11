local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local Db = ochre.component "Db" { sensitive = { "pasword" }, fields = { password = "" } } -- HERE
return Model "m" { source = "data" }
