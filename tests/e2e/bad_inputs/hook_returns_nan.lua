-- Outputs holding NaN.
-- exit: 1
-- error: Bad/b: create returned outputs that are not data: field 'outputs[1]': NaN has no stable hash
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) return { 0/0 } end,
}
return { m, Bad "b" {} }
