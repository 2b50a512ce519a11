-- Options but no command.
-- args: --state .ochre/state.db
-- exit: 2
-- error: no command given (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
