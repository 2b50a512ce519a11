-- A declaration whose braces do not close.
-- exit: 2
-- error: pipeline.lua:{*}: syntax error: '}' expected (to close '{' at line @HERE) near '<eof>'
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" -- HERE
