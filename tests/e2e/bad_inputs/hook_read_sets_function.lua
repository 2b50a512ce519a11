-- A read hook that puts a function into a field.
-- exit: 1
-- error: Bad/b: read failed: pipeline.lua:@HERE: Bad/b: field 'x' holds a function; fields hold data only (nil, booleans, numbers, strings and tables of those)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = "data" }
local Bad = ochre.component "Bad" {
  fields = { x = 1 },
  read = function(self) self.x = print end, -- HERE
}
return { m, Bad "b" {} }
