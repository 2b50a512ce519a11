-- A dependency cycle made by mutating a field.
-- exit: 2
-- error: pipeline.lua:7: dependency cycle: Model/b -> Model/a -> Model/b
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local a = Model "a" { source = "data" }
local b = Model "b" { source = a }
a.source = b
return b
