-- A pipeline returning an empty list.
-- exit: 2
-- error: pipeline.lua:@HERE: the pipeline must return a component instance or a list of them, or pass them to ochre.apply (it returned an empty table)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return {} -- HERE
