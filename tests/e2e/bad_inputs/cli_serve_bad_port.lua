-- serve on a port that is not a number.
-- args: serve pipeline.lua --port http
-- exit: 2
-- error: option --port takes a port number from 0 (any free port) to 65535 (got 'http') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
