-- A field name that is not a word.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": field names are words (got "chunk size")
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { fields = { ["chunk size"] = 1 } } -- HERE
return Model "m" { source = "data" }
