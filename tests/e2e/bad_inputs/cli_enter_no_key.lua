-- enter without a KEY.
-- args: enter pipeline.lua
-- exit: 2
-- error: 'enter' takes FILE KEY [METHOD] (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
