-- A hook that changes its identifier.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: the identifier of Bad/b cannot change
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) self.identifier = "c" end, -- HERE
}
return { m, Bad "b" {} }
