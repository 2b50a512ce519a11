-- state show of a KEY not in the state.
-- args: state show Model/nope
-- exit: 2
-- error: no instance 'Model/nope' in the state .ochre/state.db
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
