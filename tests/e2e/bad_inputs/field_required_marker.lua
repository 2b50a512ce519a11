-- ochre.required used as a value.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source': ochre.required marks a field in a type's fields, not a value
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local m = Model "m" { source = ochre.required } -- HERE
return m
