-- log --limit below zero.
-- args: log --limit -3
-- exit: 2
-- error: option --limit takes a number >= 0 (got '-3') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
