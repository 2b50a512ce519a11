-- --notify-timeout that is not a number.
-- args: destroy pipeline.lua --notify-timeout soon
-- exit: 2
-- error: option --notify-timeout takes a number >= 0 (got 'soon') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
