-- A table with a metatable in a field.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source' holds a table with a metatable; fields hold plain data
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = setmetatable({}, {}) } -- HERE
return m
