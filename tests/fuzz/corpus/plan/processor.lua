-- The walk-through: a processor with a sub-component.
-- Run it, run it again (nothing to do), change `label` (an UPDATE), change `chunk_size`
-- (a breaking field: the stored version is deleted, then the new one created), then
-- `ochre destroy pipeline.lua` (parent first, then the child).
local ochre = require "ochre"

local MyProcessor = ochre.component "MyProcessor" {
  breaks = { "chunk_size", "model" },
  fields = { model = "some-model", chunk_size = 500, label = "test",
             my_subcomponent = ochre.required },
  create = function(self)
    print("CREATE " .. self.identifier .. " with chunk_size " .. self.chunk_size)
    return { chunks = 42 }
  end,
  read   = function(self) end,
  update = function(self, old)
    print("UPDATE " .. self.identifier .. ": label " .. old.label .. " -> " .. self.label)
  end,
  delete = function(self)
    print("DELETE " .. self.identifier .. " with chunk_size " .. self.chunk_size)
  end,
}

return MyProcessor "test" { my_subcomponent = ochre.Component "sub" }
