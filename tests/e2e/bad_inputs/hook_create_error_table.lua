-- A create hook raising a table.
-- exit: 1
-- error: Bad/b: create failed: (error object is a table value)
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) error({ code = 7 }) end,
}
return { m, Bad "b" {} }
