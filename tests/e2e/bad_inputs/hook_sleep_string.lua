-- A waiting call with a bad argument.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: ochre.sleep takes a number of seconds >= 0
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) ochre.sleep("soon") end, -- HERE
}
return { m, Bad "b" {} }
