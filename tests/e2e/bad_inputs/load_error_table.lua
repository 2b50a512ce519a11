-- error() with a table: no message, still one clear line.
-- exit: 2
-- error: (error object is a table value)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
error({ code = 7 })
return Model "m" { source = "data" }
