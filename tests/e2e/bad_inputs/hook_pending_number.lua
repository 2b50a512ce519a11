-- ochre.pending given a number.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: ochre.pending takes a reason string
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) local p = ochre.pending(42) return p end, -- HERE
}
return { m, Bad "b" {} }
