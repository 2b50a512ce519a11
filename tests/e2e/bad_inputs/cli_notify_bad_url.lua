-- --notify with a URL that is not http(s).
-- args: run pipeline.lua --notify mailto:ops@example.test
-- exit: 2
-- error: --notify 'mailto:ops@example.test': a webhook URL starts with http:// or https:// (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
