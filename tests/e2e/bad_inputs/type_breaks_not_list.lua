-- breaks given as a string.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": breaks must be a list of field names
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { breaks = "a", fields = { a = 1 } } -- HERE
return Model "m" { source = "data" }
