-- A component type given a string instead of its table.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "T" expects a table { fields = ..., create = ... } (got "fields")
local ochre = require "ochre"
local T = ochre.component "T" "fields" -- HERE
return T "t" {}
