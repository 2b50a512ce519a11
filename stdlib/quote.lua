-- ochre.quote(s): `s` between single quotes, safe to paste into an ochre.sh command.
local U = require "ochre.util"

local M = {}

function M.quote(s)
  if type(s) ~= "string" and type(s) ~= "number" then U.fail("ochre.quote takes a string") end
  return U.quote(s)
end

return M
