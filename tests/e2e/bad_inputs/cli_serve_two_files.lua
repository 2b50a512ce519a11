-- serve with two files.
-- args: serve pipeline.lua pipeline.lua
-- exit: 2
-- error: 'serve' takes at most one FILE (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
