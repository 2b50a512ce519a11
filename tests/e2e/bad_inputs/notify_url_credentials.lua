-- ochre.notify to a URL with a password in it.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: a webhook URL holds no user or password (the signature says the event is from ochre) (got "https://me:pw@example.test/hook")
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "https://me:pw@example.test/hook", secret = "s" } -- HERE
return Model "m" { source = "data" }
