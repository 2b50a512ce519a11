-- run without a file.
-- args: run
-- exit: 2
-- error: 'run' needs a pipeline FILE (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
