-- serve a pipeline with an unknown field: the same error as plan, before serving.
-- args: serve pipeline.lua --port 0
-- exit: 2
-- error: pipeline.lua:@HERE: Model has no field 'sauce' (did you mean 'source'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { sauce = "data" } -- HERE
