-- A list with something that is not an instance.
-- exit: 2
-- error: pipeline.lua:@HERE: the pipeline must return a component instance or a list of them, or pass them to ochre.apply (it returned a list whose item 2 is not an instance)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return { Model "m" { source = "data" }, "other" } -- HERE
