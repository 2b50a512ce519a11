-- -j with a word.
-- args: run --jobs many pipeline.lua
-- exit: 2
-- error: option --jobs takes a number >= 1 (got 'many') (see 'ochre --help')
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return Model "m" { source = "data" }
