-- Outputs holding a function.
-- exit: 1
-- error: Bad/b: create returned outputs that are not data: field 'outputs.f': holds a function; fields hold data only (nil, booleans, numbers, strings and tables of those)
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) return { f = print } end,
}
return { m, Bad "b" {} }
