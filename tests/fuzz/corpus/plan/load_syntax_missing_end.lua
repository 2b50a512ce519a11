local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local function f()
  return 1
return Model "m" { source = "data" } -- HERE
