-- ochre.Command: shell commands as a component. `command` runs on create (and on update
-- unless `update_command` is given), `delete_command` on delete. `{{...}}` placeholders
-- in the commands name the instance's fields, so `{{inputs.src.outputs.path}}` passes a
-- dependency's output along; inserted values are shell-quoted. The outputs are the last
-- command's result: code, stdout, stderr and text (stdout without trailing whitespace).
-- `produces = { "path", ... }` names the files the command makes: after it runs each
-- must exist, and its SHA-256 goes into outputs.files[path]. Such a Command is `cutoff`:
-- when an update leaves its outputs as they were, what depends on it only through them
-- does not run. Deleting it removes those files, unless `keep = true`.
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
  if self.executor ~= nil and self.executor ~= "local" and self.executor ~= "slurm" then
    U.job_fail(self, "field 'executor' must be \"local\" or \"slurm\"")
  end
  if self.slurm ~= nil and type(self.slurm) ~= "table" then
    U.job_fail(self, "field 'slurm' must be a table of sbatch options")
  end
  return { env = env, cwd = cwd, timeout = timeout or nil, executor = self.executor, slurm = self.slurm }
end

-- A produced file's path as the command sees it (relative to cwd when one is set).
local function produced_path(self, path)
  local cwd = self.cwd and render(self, self.cwd, "cwd")
  if cwd and path:sub(1, 1) ~= "/" then return cwd .. "/" .. path end
  return path
end

local function check_produces(self)
  local p = self.produces
  if p == nil then return end
  local n = 0
  if type(p) == "table" then for _ in pairs(p) do n = n + 1 end end
  if type(p) ~= "table" or #p ~= n then U.job_fail(self, "field 'produces' must be a list of paths") end
  for i, path in ipairs(p) do
    if type(path) ~= "string" or path == "" then
      U.job_fail(self, ("field 'produces': entry %d must be a path (got %s)"):format(i, U.describe(path)))
    end
  end
  if self.keep ~= nil and type(self.keep) ~= "boolean" then
    U.job_fail(self, "field 'keep' must be true or false")
  end
end

local function run(self, field)
  local cmd = render(self, self[field], field, true)
  local r = ochre.sh(cmd, options(self))
  if r.code ~= 0 then
    local why = r.timed_out and "timed out" or r.code and ("exited with " .. r.code)
      or ("was killed by signal " .. tostring(r.signal))
    U.job_fail(self, ("%s %s: %s"):format(field, why, cmd))
  end
  local out = { code = r.code, stdout = r.stdout, stderr = r.stderr, text = (r.stdout:gsub("%s+$", "")) }
  if field ~= "delete_command" and self.produces and #self.produces > 0 then
    out.files = {}
    for _, path in ipairs(self.produces) do
      local digest = ochre.sha256_file(produced_path(self, path))
      if not digest then
        U.job_fail(self, ("produces '%s', but the file is missing after %s"):format(path, field))
      end
      out.files[path] = digest
    end
  end
  return out
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
    -- (optional: a Command that does not use them keeps the ids it had before they existed)
    produces = ochre.optional, -- files the command makes: checked, hashed into outputs.files
    keep = ochre.optional,     -- true: deleting the Command leaves the produced files
    executor = ochre.optional, -- "local" or "slurm" (default: ochre.settings, --executor)
    slurm = ochre.optional,    -- sbatch options: partition, cpus, mem, time, gpus, name, extra
  },
  -- With produces, dependents react to the produced files, not to the command's fields.
  cutoff = function(self) return type(self.produces) == "table" and next(self.produces) ~= nil end,
  validate = function(self)
    U.check_field(self, "command", "string")
    U.check_field(self, "update_command", "string", true)
    U.check_field(self, "delete_command", "string", true)
    check_produces(self)
  end,
  create = function(self) return run(self, "command") end,
  update = function(self)
    return run(self, self.update_command and "update_command" or "command")
  end,
  delete = function(self)
    if self.delete_command then run(self, "delete_command") end
    if not self.keep and type(self.produces) == "table" then
      for _, path in ipairs(self.produces) do
        local full = produced_path(self, path)
        if ochre.fs.exists(full) then
          local ok, err = ochre.fs.remove(full)
          if not ok then U.job_fail(self, ("cannot remove produced file '%s': %s"):format(path, err)) end
        end
      end
    end
  end,
}

return M
