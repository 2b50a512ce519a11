-- history without a KEY.
-- args: history
-- exit: 2
-- error: 'history' takes one KEY (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
