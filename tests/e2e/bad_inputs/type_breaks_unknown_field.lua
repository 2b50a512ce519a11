-- breaks names a field the type does not have.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": breaks names 'modle', which is not a field (did you mean 'model'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { breaks = { "modle" }, fields = { model = 1 } } -- HERE
return Model "m" { source = "data" }
