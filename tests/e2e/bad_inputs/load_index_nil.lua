-- A runtime error while the pipeline loads.
-- exit: 2
-- error: pipeline.lua:@HERE: attempt to index local 'cfg' (a nil value)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local cfg = nil
local size = cfg.size -- HERE
return Model "m" { source = "data", size = size }
