-- error() with a message at load.
-- exit: 2
-- error: pipeline.lua:@HERE: no config found
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
error("no config found") -- HERE
return Model "m" { source = "data" }
