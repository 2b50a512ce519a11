-- An unknown field in a declaration over several lines: the declaration's line.
-- exit: 2
-- error: pipeline.lua:@HERE: Model has no field 'modle' (did you mean 'model'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { -- HERE
  source = "data",
  modle = "x",
}
return m
