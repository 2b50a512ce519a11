-- --notify without OCHRE_NOTIFY_SECRET in the environment.
-- args: run pipeline.lua --notify http://127.0.0.1:9/hook
-- exit: 2
-- error: --notify needs a secret to sign deliveries with: set OCHRE_NOTIFY_SECRET (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
