-- run with two files.
-- args: run pipeline.lua pipeline.lua
-- exit: 2
-- error: 'run' takes one FILE (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
