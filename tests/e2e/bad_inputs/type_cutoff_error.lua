-- A type's cutoff function that raises: the message names the instance's line, then the error.
-- exit: 1
-- error: pipeline.lua:@HERE: Step/s: cutoff: pipeline.lua:{*}: no cutoff here
-- lines: many
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local Step = ochre.component "Step" { fields = { n = 1 }, cutoff = function(self) error("no cutoff here") end }
local s = Step "s" { n = 2 } -- HERE
return { Model "m" { source = "data" }, s }
