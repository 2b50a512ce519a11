-- fields given as a list of names... as a string.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": fields must be a table of name = default
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { fields = "a, b" } -- HERE
return Model "m" { source = "data" }
