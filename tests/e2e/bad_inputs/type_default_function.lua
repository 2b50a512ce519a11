-- A default value that is a function.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": default of field 'f' holds a function; fields hold data only (nil, booleans, numbers, strings and tables of those)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { fields = { f = print } } -- HERE
return Model "m" { source = "data" }
