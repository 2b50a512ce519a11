-- An empty file name.
-- args: run ''
-- exit: 2
-- error: cannot read pipeline '': No such file or directory
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
