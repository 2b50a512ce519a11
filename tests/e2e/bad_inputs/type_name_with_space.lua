-- A component type name that is not a word.
-- exit: 2
-- error: pipeline.lua:@HERE: a component type name is a word like "Processor" (got "My Type")
local ochre = require "ochre"
local T = ochre.component "My Type" {} -- HERE
return T "t" {}
