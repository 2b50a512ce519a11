-- A field of the wrong type, refused by the pipeline's own validate.
-- exit: 2
-- error: pipeline.lua:@HERE: size must be a number
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 },
  validate = function(self) assert(type(self.size) == "number", "size must be a number") end }
local m = Model "m" { source = "data", size = "big" } -- HERE
return m
