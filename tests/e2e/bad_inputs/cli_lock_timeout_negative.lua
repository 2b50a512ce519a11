-- --lock-timeout below zero.
-- args: run pipeline.lua --lock-timeout -1
-- exit: 2
-- error: option --lock-timeout takes a number >= 0 (got '-1') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
