-- NaN set after the declaration.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'size' is NaN, which has no stable hash
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
m.size = 0/0 -- HERE
return m
