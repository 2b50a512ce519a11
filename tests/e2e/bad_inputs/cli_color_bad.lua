-- --color with an unknown value.
-- args: run pipeline.lua --color purple
-- exit: 2
-- error: --color takes auto, always or never (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
