-- A create hook that raises: the job fails with the hook's line.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: cannot create
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) error("cannot create") end, -- HERE
}
return { m, Bad "b" {} }
