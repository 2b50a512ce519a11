-- ochre.notify with a number among the events.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: unknown event number 3 (events: run.started, run.finished, run.failed, job.failed, component.replaced)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", events = { "run.failed", 3 }, secret = "s" } -- HERE
return Model "m" { source = "data" }
