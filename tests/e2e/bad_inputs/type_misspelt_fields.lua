-- A misspelt entry of a type: the closest entry is suggested.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": unknown entry 'feilds' (did you mean 'fields'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { feilds = { a = 1 } } -- HERE
return Model "m" { source = "data" }
