-- A pipeline file that does not exist.
-- args: run missing.lua
-- exit: 2
-- error: cannot read pipeline 'missing.lua': No such file or directory
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
