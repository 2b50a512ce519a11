-- ochre.notify to a URL without a host.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: the webhook URL names no host (got "https:///hook")
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "https:///hook", secret = "s" } -- HERE
return Model "m" { source = "data" }
