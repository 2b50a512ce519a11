-- ochre.notify to a URL whose port is out of range.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: the webhook URL's port is not a number from 1 to 65535 (got "http://127.0.0.1:99999/hook")
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:99999/hook", secret = "s" } -- HERE
return Model "m" { source = "data" }
