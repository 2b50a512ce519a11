-- os.exit in a read hook.
-- exit: 1
-- error: Bad/b: read failed: pipeline.lua:@HERE: os.exit cannot end ochre from a hook: raise an error to fail the job (or return ochre.pending "reason" to come back later)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  read = function(self) os.exit(5) end, -- HERE
}
return { m, Bad "b" {} }
