-- A function without its end: reported at the end of the file.
-- exit: 2
-- error: pipeline.lua:@HERE: syntax error: 'end' expected (to close 'function' at line {*}) near 'return'
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local function f()
  return 1
return Model "m" { source = "data" } -- HERE
