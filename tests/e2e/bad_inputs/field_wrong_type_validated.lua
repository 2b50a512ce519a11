-- A field of the wrong type, refused by the type's validate (stdlib File).
-- exit: 2
-- error: pipeline.lua:@HERE: File/f: field 'path' must be a non-empty string (got number 42)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
local f = ochre.File "f" { path = 42, content = "x" } -- HERE
return { Model "m" { source = "data" }, f }
