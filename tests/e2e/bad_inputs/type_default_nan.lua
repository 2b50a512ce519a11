-- A default value that is NaN.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": default of field 'x' is NaN, which has no stable hash
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { fields = { x = 0/0 } } -- HERE
return Model "m" { source = "data" }
