-- ochre.notify without a url.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.notify needs a url = "https://..."
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
ochre.notify { events = { "run.failed" }, secret = "s" } -- HERE
return Model "m" { source = "data" }
