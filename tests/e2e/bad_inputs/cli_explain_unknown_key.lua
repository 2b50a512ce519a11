-- explain of a KEY that is nowhere.
-- args: explain pipeline.lua Model/nope
-- exit: 2
-- error: no instance 'Model/nope' in the pipeline or the state
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
