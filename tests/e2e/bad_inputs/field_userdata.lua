-- A userdata (a file handle) in a field.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source' holds a userdata; fields hold data only (nil, booleans, numbers, strings and tables of those)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = io.stdout } -- HERE
return m
