local ochre = require "ochre"
local T = ochre.component "T" {
  breaks = { "mode" },
  sensitive = { "secret" },
  fields = { mode = "a", secret = "", deps = {}, n = 1.5, opts = { x = true } },
  read = function(self) self.n = self.n + 1 end,
}
local base = T "base" { mode = "b", secret = "s" }
local left = T "left" { deps = { base }, opts = { x = false, y = { 1, 2, 3 } } }
local right = T "right" { deps = { base }, n = -0.25 }
return { T "top" { deps = { left, right }, opts = { [1] = "a", [2] = "b" } } }
