-- An update hook that raises: the stored version stays, marked failed.
-- exit: 1
-- error: Model/m: update failed: pipeline.lua:@HERE: cannot update
-- state: failed Model/m
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 },
  update = function(self) error("cannot update") end } -- HERE
return Model "m" { source = "data", size = 2 }
