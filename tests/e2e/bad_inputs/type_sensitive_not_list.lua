-- sensitive given as a string.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "Db": sensitive must be a list of field names
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local Db = ochre.component "Db" { sensitive = "password", fields = { password = "" } } -- HERE
return Model "m" { source = "data" }
