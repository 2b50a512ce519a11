-- A required field left out in the returned declaration.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m needs a value for required field 'source'
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { size = 2 } -- HERE
