-- A create hook returning an instance.
-- exit: 1
-- error: Bad/b: create (pipeline.lua:10) must return a table of outputs, ochre.pending(...) or nothing (it returned a table)
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) return m end,
}
return { m, Bad "b" {} }
