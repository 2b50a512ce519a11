-- Outputs with a metatable.
-- exit: 1
-- error: Bad/b: create returned outputs that are not data: field 'outputs': holds a table with a metatable; fields hold plain data
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) return setmetatable({}, {}) end,
}
return { m, Bad "b" {} }
