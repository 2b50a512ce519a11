-- A table used as a key.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source' has a table key; keys are strings or numbers
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = { [{}] = 1 } } -- HERE
return m
