-- An instance that depends on itself.
-- exit: 2
-- error: pipeline.lua:6: dependency cycle: Model/a -> Model/a
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local a = Model "a" { source = "data" }
a.source = a
return a
