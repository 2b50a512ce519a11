-- An infinite number as a key.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source' has a key that is not a finite number
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = { [math.huge] = 1 } } -- HERE
return m
