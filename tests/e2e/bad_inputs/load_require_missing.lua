-- require of a module that is nowhere: the first line names it.
-- exit: 2
-- error: pipeline.lua:@HERE: module 'no_such_helpers' not found:
-- lines: many
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local helpers = require "no_such_helpers" -- HERE
return Model "m" { source = "data" }
