-- ochre.notify with a misspelt event name.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: unknown event "run.fail" (did you mean 'run.failed'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", events = { "run.fail" }, secret = "s" } -- HERE
return Model "m" { source = "data" }
