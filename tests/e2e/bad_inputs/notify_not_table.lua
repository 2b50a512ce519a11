-- ochre.notify given a URL string instead of a table.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify takes a table { url = ..., events = ..., secret = ... } (got "http://127.0.0.1:9/hook")
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify "http://127.0.0.1:9/hook" -- HERE
return Model "m" { source = "data" }
