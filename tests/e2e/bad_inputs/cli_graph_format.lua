-- graph with an unknown format.
-- args: graph pipeline.lua --format png
-- exit: 2
-- error: --format takes dot or mermaid (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
