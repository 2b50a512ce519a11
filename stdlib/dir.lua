-- ochre.Dir: a directory (and the missing ones above it). Its read notices when it
-- vanished or lost its mode; delete removes the directories it made, when empty, so it
-- never takes files it does not own with it.
local ochre = require "ochre"
local U = require "ochre.util"

local M = {}

local function check(self)
  U.check_field(self, "path", "string")
  return U.mode(self)
end

local function make(self, old)
  local mode = check(self)
  local made = {}
  if not ochre.fs.exists(self.path) then
    local ok, parents = pcall(U.make_parents, self.path .. "/x")
    if not ok then U.job_fail(self, parents) end
    made = parents
  end
  local st = ochre.fs.stat(self.path)
  if not st or st.type ~= "directory" then U.job_fail(self, self.path .. " exists and is not a directory") end
  if mode and st.mode ~= mode then
    local r = ochre.sh(("chmod %o %s"):format(mode, U.quote(self.path)), { quiet = true })
    if r.code ~= 0 then U.job_fail(self, "chmod failed: " .. r.stderr) end
  end
  local before = old and old.outputs and old.outputs.made_dirs
  return { path = self.path, made_dirs = U.union(before, made), repairs = self.repairs }
end

M.Dir = ochre.component "Dir" {
  doc = "A directory; drift (it vanished or lost its mode) is noticed and repaired.",
  breaks = { "path" },
  fields = {
    path = ochre.required,
    mode = false,  -- an octal string like "0755"; false leaves the default
    inputs = {},   -- instances applied first (and deleted after)
    repairs = 0,   -- set by read: how many times drift was repaired
  },
  validate = check,
  read = function(self)
    local mode = check(self)
    local out = self.outputs or {}
    local applied = out.path == self.path
    local st = applied and ochre.fs.stat(self.path)
    U.note_drift(self, applied, st and st.type == "directory" and (mode == nil or st.mode == mode))
  end,
  create = function(self) return make(self) end,
  update = function(self, old) return make(self, old) end,
  delete = function(self)
    U.remove_empty(self.outputs and self.outputs.made_dirs)
  end,
}

return M
