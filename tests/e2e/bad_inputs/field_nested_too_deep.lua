-- Tables nested 100000 deep in a field.
-- exit: 2
-- error: pipeline.lua:@HERE: Model/m: field 'source' holds tables nested more than 1000 deep
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local t = {}
for i = 1, 100000 do t = { t } end
local m = Model "m" { source = t } -- HERE
return m
