-- A directory given to plan.
-- args: plan adir
-- exit: 2
-- error: cannot read pipeline 'adir': it is a directory
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
