-- --state naming a directory.
-- args: run pipeline.lua --state adir
-- exit: 2
-- error: state 'adir': is a directory, not a state file
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
