-- An unknown state subcommand.
-- args: state frob
-- exit: 2
-- error: unknown 'state' command 'frob' (list, show, rm, mv, migrate) (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
