-- ochre.apply from a hook.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: ochre.apply belongs in the pipeline file (it names what ochre works on); a hook cannot call it
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) ochre.apply(m) end, -- HERE
}
return { m, Bad "b" {} }
