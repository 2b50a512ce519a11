-- An unknown command.
-- args: frobnicate pipeline.lua
-- exit: 2
-- error: unknown command 'frobnicate' (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
