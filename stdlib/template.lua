-- ochre.Template: a file rendered from a template string and values (see render.lua
-- for the syntax); otherwise a File.
local ochre = require "ochre"
local R = require "ochre.render"
local S = require "ochre.filesync"
local U = require "ochre.util"

local M = {}

-- Names resolve in `vars` first, then `inputs` (so {{inputs.x.outputs.y}} works).
local function context(self)
  return setmetatable({}, { __index = function(_, k)
    local v = self.vars[k]
    if v == nil and k == "inputs" then return self.inputs end
    return v
  end })
end

local function render_self(self)
  U.check_field(self, "template", "string", true)
  if type(self.vars) ~= "table" then U.job_fail(self, "field 'vars' must be a table of values") end
  local text, err = R.try_render(self.template or "", context(self))
  if not text then U.job_fail(self, "template: " .. err) end
  return text
end

M.Template = ochre.component "Template" {
  doc = "A file rendered from a template string and values; drift is repaired.",
  breaks = { "path" },
  fields = {
    path = ochre.required,
    template = ochre.required,  -- text with {{name}} placeholders
    vars = {},                  -- the values the placeholders name
    inputs = {},                -- instances applied first; {{inputs.x.outputs.y}}
    mode = false,
    repairs = 0,
  },
  validate = function(self)
    S.check(self)
    U.check_field(self, "template", "string", true)
    if type(self.vars) ~= "table" then U.job_fail(self, "field 'vars' must be a table of values") end
  end,
  read = S.read,
  create = function(self) return S.write(self, render_self(self)) end,
  update = function(self, old) return S.write(self, render_self(self), old) end,
  delete = S.remove,
}

return M
