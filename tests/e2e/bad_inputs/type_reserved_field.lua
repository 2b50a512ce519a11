-- outputs is reserved and cannot be a field.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T": 'outputs' is reserved and cannot be a field
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local T = ochre.component "T" { fields = { outputs = {} } } -- HERE
return Model "m" { source = "data" }
