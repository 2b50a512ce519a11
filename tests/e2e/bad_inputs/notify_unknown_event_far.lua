-- ochre.notify with an event name close to none.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: unknown event "deploy" (events: run.started, run.finished, run.failed, job.failed, component.replaced)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", events = { "deploy" }, secret = "s" } -- HERE
return Model "m" { source = "data" }
