-- sensitive names a field the type does not have.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "Db": sensitive names 'pasword', which is not a field (did you mean 'password'?)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local Db = ochre.component "Db" { sensitive = { "pasword" }, fields = { password = "" } } -- HERE
return Model "m" { source = "data" }
