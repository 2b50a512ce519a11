-- A table of named instances instead of a list: it is not empty, and the message should say what it is.
-- exit: 2
-- error: pipeline.lua:@HERE: the pipeline must return a component instance or a list of them, or pass them to ochre.apply (it returned a table with named entries{*})
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
return { main = Model "m" { source = "data" } } -- HERE
