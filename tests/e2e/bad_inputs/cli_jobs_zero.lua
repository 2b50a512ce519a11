-- -j 0.
-- args: run -j 0 pipeline.lua
-- exit: 2
-- error: option -j takes a number >= 1 (got '0') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
