-- A number that overflows to infinity.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'size' is infinite, which has no stable hash
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data", size = 1e308 * 10 } -- HERE
return m
