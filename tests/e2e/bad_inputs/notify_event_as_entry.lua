-- ochre.notify with an event name as an entry.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify: unknown entry "job.failed" (list events in events = { "job.failed" })
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { url = "http://127.0.0.1:9/hook", ["job.failed"] = true, secret = "s" } -- HERE
return Model "m" { source = "data" }
