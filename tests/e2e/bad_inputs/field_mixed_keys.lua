-- A table mixing list items and names.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source' mixes string and number keys; use one kind
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = { "a", b = 2 } } -- HERE
return m
