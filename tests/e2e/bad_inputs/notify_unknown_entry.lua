-- ochre.notify with a misspelt entry.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: unknown entry "evnets" (did you mean 'events'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", evnets = { "run.failed" }, secret = "s" } -- HERE
return Model "m" { source = "data" }
