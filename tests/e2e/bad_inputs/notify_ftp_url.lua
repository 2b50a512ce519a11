-- ochre.notify to a URL that is not http(s).
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: a webhook URL starts with http:// or https:// (got "ftp://example.test/hook")
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "ftp://example.test/hook", secret = "s" } -- HERE
return Model "m" { source = "data" }
