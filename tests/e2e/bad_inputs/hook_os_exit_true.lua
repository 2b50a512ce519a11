-- os.exit(true) in a hook: the same.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: os.exit cannot end ochre from a hook: raise an error to fail the job (or return ochre.pending "reason" to come back later)
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) print("about to leave") os.exit(true) end, -- HERE
}
return { m, Bad "b" {} }
