-- A number as identifier.
-- exit: 2
-- error: pipeline.lua:@HERE: Model: an identifier must be a non-empty string (got number 42); write Model "name"
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model(42) { source = "data" } -- HERE
return m
