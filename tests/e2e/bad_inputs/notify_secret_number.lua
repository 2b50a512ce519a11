-- ochre.notify with a number as the secret.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: secret must be a string (got number)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", secret = 42 } -- HERE
return Model "m" { source = "data" }
