-- An unknown short option.
-- args: run -x pipeline.lua
-- exit: 2
-- error: unknown option '-x' (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
