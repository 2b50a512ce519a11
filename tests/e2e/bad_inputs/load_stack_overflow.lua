-- Endless recursion while loading.
-- exit: 2
-- error: pipeline.lua:@HERE: stack overflow
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local function f(n) return 1 + f(n + 1) end -- HERE
f(1)
return Model "m" { source = "data" }
