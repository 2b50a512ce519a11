-- An unfinished string.
-- exit: 2
-- error: pipeline.lua:@HERE: syntax error: unfinished string near '"no end -- HERE'
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local s = "no end -- HERE
return Model "m" { source = s }
