-- A delete hook that raises: the stored version stays, marked failed.
-- args: destroy pipeline.lua
-- exit: 1
-- error: Model/m: delete failed: pipeline.lua:@HERE: cannot delete
-- state: failed Model/m
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 },
  delete = function(self) error("cannot delete") end } -- HERE
return Model "m" { source = "data" }
