-- ochre.notify whose url is a table.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: url must be a string (got table)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = { "http://127.0.0.1:9/hook" }, secret = "s" } -- HERE
return Model "m" { source = "data" }
