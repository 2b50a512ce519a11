-- log with an argument.
-- args: log everything
-- exit: 2
-- error: 'log' takes no arguments (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
