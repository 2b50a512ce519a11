-- Outputs that contain themselves.
-- exit: 1
-- error: Bad/b: create returned outputs that are not data: field 'outputs.t': contains a cycle (a table that contains itself)
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) local t = {} t.t = t return t end,
}
return { m, Bad "b" {} }
