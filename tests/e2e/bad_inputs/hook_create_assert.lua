-- A create hook whose assert fails.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: x must be 2
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) assert(self.x == 2, "x must be 2") end, -- HERE
}
return { m, Bad "b" {} }
