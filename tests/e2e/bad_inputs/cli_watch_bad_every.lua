-- watch with a duration it cannot read.
-- args: watch pipeline.lua --every 5parsecs
-- exit: 2
-- error: --every takes a duration like 30s, 5m, 1h or 500ms (got '5parsecs') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
