-- Fields given twice to one instance.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m already has its fields; give them once: Model "m" { ... }
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" } { size = 2 } -- HERE
return m
