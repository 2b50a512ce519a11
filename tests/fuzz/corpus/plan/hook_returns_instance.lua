local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) return m end,
}
return { m, Bad "b" {} }
