-- destroy of a KEY the pipeline does not have.
-- args: destroy pipeline.lua Model/nope
-- exit: 2
-- error: no instance 'Model/nope' in the state
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
