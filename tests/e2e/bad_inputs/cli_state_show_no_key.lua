-- state show without a KEY.
-- args: state show
-- exit: 2
-- error: usage: ochre state show KEY (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
