-- The same type name defined twice: the first definition is named.
-- exit: 2
-- error: pipeline.lua:@HERE: component type 'Model' is already defined at pipeline.lua:5
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local Again = ochre.component "Model" { fields = { x = 1 } } -- HERE
return Model "m" { source = "data" }
