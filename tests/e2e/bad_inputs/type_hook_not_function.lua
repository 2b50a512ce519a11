-- A hook that is not a function.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": unknown entry 'create' (a hook must be a function)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { create = "echo hi" } -- HERE
return Model "m" { source = "data" }
