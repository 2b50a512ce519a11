-- explain without a KEY.
-- args: explain pipeline.lua
-- exit: 2
-- error: 'explain' takes a FILE and a KEY (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
