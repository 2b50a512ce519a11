-- os.exit in the pipeline file ends ochre with that status, before anything is written.
-- exit: 7
-- error: (none)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
os.exit(7)
return Model "m" { source = "data" }
