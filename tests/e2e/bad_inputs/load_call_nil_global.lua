-- A call of a global that does not exist (a typo).
-- exit: 2
-- error: pipeline.lua:@HERE: attempt to call global 'Modle' (a nil value)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Modle "m" { source = "data" } -- HERE
return m
