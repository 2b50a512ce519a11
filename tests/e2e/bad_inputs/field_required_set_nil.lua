-- A required field set to nil after the declaration.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m needs a value for required field 'source'
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" } -- HERE
m.source = nil
return m
