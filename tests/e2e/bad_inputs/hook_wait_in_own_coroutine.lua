-- A waiting call inside a coroutine of the hook's own.
-- exit: 1
-- error: Bad/b: create failed: pipeline.lua:@HERE: pipeline.lua:@HERE: cannot wait here: waiting calls work in a hook's own coroutine, not in one of yours
-- state: failed Bad/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  create = function(self) coroutine.wrap(function() ochre.sleep(0) end)() end, -- HERE
}
return { m, Bad "b" {} }
