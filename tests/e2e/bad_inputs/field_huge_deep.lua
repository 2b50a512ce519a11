-- -math.huge deep in a field.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source[2][1]' is infinite, which has no stable hash
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = { 1, { -math.huge } } } -- HERE
return m
