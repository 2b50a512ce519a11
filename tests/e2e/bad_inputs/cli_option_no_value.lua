-- --state without its value.
-- args: run pipeline.lua --state
-- exit: 2
-- error: option --state needs a value (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
