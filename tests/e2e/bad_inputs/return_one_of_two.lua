-- Of two returns, the one that ran is named (not the last one of the file).
-- exit: 2
-- error: pipeline.lua:@HERE: the pipeline must return a component instance or a list of them, or pass them to ochre.apply (it returned a string value)
local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
if ochre then
  return "Model/m" -- HERE
end
return { Model "m" { source = "data" } }
