-- A read hook that yields outside the scheduler.
-- exit: 1
-- error: Bad/b: read (pipeline.lua:9) failed: the hook yielded without waiting for anything (coroutine.yield is not for hooks; wait with ochre.sleep, ochre.sh, ...)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  read = function(self) coroutine.yield() end,
}
return { m, Bad "b" {} }
