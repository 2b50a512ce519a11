-- Fields given as a string instead of a table.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: expected a table of fields, got "data"
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" "data" -- HERE
return m
