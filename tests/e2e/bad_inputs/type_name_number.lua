-- A component type named by a number.
-- exit: 2
-- error: pipeline.lua:@HERE: a component type name is a word like "Processor" (got number 42)
local ochre = require "ochre"
local T = ochre.component(42) {} -- HERE
return T "t" {}
