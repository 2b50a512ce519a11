-- breaks names a field twice.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": breaks names 'a' twice
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { breaks = { "a", "a" }, fields = { a = 1 } } -- HERE
return Model "m" { source = "data" }
