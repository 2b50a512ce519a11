-- state mv with something that is not a KEY.
-- args: state mv Model/m m2
-- exit: 2
-- error: 'm2' is not a Type/identifier key (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
