-- A syntax error: the message names the line and the token.
-- exit: 2
-- error: pipeline.lua:@HERE: syntax error: unexpected symbol near '='
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local x = = 1 -- HERE
return Model "m" { source = "data" }
