-- error() at level 0: a message with no position.
-- exit: 2
-- error: plain message
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
error("plain message", 0)
return Model "m" { source = "data" }
