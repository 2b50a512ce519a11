-- state mv across types.
-- args: state mv Model/m Other/m
-- exit: 2
-- error: state mv renames an identifier; Model/m and Other/m have different types (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
