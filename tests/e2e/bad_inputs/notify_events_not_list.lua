-- ochre.notify whose events is a string, not a list.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: events must be a list of event names (leave it out for every event): run.started, run.finished, run.failed, job.failed, component.replaced
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", events = "run.failed", secret = "s" } -- HERE
return Model "m" { source = "data" }
