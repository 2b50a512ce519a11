-- The identifier is part of the key, printed everywhere: it cannot be sensitive.
-- exit: 2
-- error: pipeline.lua:@HERE: ochre.component "Db": the identifier is part of the key, shown everywhere; it cannot be sensitive
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local Db = ochre.component "Db" { sensitive = { "identifier" }, fields = { password = "" } } -- HERE
return Model "m" { source = "data" }
