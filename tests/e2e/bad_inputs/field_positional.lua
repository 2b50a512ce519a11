-- A value without a name in the field table.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field names are strings; got number 1 (write name = value)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { "data" } -- HERE
return m
