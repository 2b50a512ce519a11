-- A create hook raising nothing.
-- exit: 1
-- error: Bad/b: create failed: (error object is a nil value)
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) error() end,
}
return { m, Bad "b" {} }
