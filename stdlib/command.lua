-- ochre.Command: shell commands as a component. `command` runs on create (and on update
-- unless `update_command` is given), `delete_command` on delete. `{{...}}` placeholders
-- in the commands name the instance's fields, so `{{inputs.src.outputs.path}}` passes a
-- dependency's output along; inserted values are shell-quoted. The outputs are the last
-- command's result: code, stdout, stderr and text (stdout without trailing whitespace).
local ochre = require "ochre"
local R = require "ochre.render"
local U = require "ochre.util"

local M = {}

-- `text` (the value of `what`) with its placeholders filled from the instance's fields.
local function render(self, text, what, quote)
  local out, err = R.try_render(text, self, quote and U.quote or nil)
  if not out then U.job_fail(self, ("%s: %s"):format(what, err)) end
  return out
end

local function options(self)
  local env = {}
  if type(self.env) ~= "table" then U.job_fail(self, "field 'env' must be a table of NAME = value") end
  for k, v in pairs(self.env) do
    env[k] = type(v) == "string" and render(self, v, "env." .. k) or v
  end
  local cwd = U.check_field(self, "cwd", "string", true)
  if cwd then cwd = render(self, cwd, "cwd") end
  local timeout = self.timeout
  if timeout ~= false and type(timeout) ~= "number" then
    U.job_fail(self, "field 'timeout' must be a number of seconds or false")
  end
  return { env = env, cwd = cwd, timeout = timeout or nil }
end

local function run(self, field)
  local cmd = render(self, self[field], field, true)
  local r = ochre.sh(cmd, options(self))
  if r.code ~= 0 then
    local why = r.timed_out and "timed out" or r.code and ("exited with " .. r.code)
      or ("was killed by signal " .. tostring(r.signal))
    U.job_fail(self, ("%s %s: %s"):format(field, why, cmd))
  end
  return { code = r.code, stdout = r.stdout, stderr = r.stderr, text = (r.stdout:gsub("%s+$", "")) }
end

M.Command = ochre.component "Command" {
  doc = "Shell commands run on create, update and delete; outputs are their results.",
  fields = {
    command = ochre.required,  -- run on create, and on update unless update_command
    update_command = false,
    delete_command = false,
    env = {},                  -- NAME = value (false removes NAME)
    cwd = false,               -- the directory the commands run in
    timeout = false,           -- seconds
    inputs = {},               -- instances applied first; a change in them updates this
  },
  validate = function(self)
    U.check_field(self, "command", "string")
    U.check_field(self, "update_command", "string", true)
    U.check_field(self, "delete_command", "string", true)
  end,
  create = function(self) return run(self, "command") end,
  update = function(self)
    return run(self, self.update_command and "update_command" or "command")
  end,
  delete = function(self)
    if self.delete_command then run(self, "delete_command") end
  end,
}

return M
