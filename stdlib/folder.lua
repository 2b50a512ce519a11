-- ochre.Folder: a watched folder. Its read records the files in it with their SHA-256,
-- so new or changed files plan an UPDATE of the folder and of everything that uses it.
-- With `min_new = N` it changes only once N files are new (or changed) since the last
-- apply; until then it reports what it reported last. The outputs list the files and
-- which of them are new, for the jobs downstream.
local ochre = require "ochre"
local U = require "ochre.util"

local M = {}

local function check(self)
  U.check_field(self, "path", "string")
  local n = self.min_new
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then
    U.job_fail(self, ("field 'min_new' must be a whole number >= 1 (got %s)"):format(U.describe(n)))
  end
  U.check_field(self, "pattern", "string", true)
end

-- name -> SHA-256 of the regular files in the folder that match.
local function scan(self)
  local files = {}
  for _, name in ipairs(ochre.fs.list(self.path) or {}) do
    local wanted = (self.hidden or name:sub(1, 1) ~= ".")
      and (not self.pattern or name:find(self.pattern) ~= nil)
    local p = self.path .. "/" .. name
    local st = wanted and ochre.fs.stat(p)
    if st and st.type == "file" then files[name] = ochre.sha256_file(p) end
  end
  return files
end

-- Names in `now` that are absent from `before` or differ, and names gone, sorted.
local function diff(before, now)
  local new, gone = {}, {}
  for _, name in ipairs(U.sorted_keys(now)) do
    if before[name] ~= now[name] then new[#new + 1] = name end
  end
  for _, name in ipairs(U.sorted_keys(before)) do
    if now[name] == nil then gone[#gone + 1] = name end
  end
  return new, gone
end

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

local function apply(self, old)
  check(self)
  local made = {}
  if not ochre.fs.exists(self.path) then
    local ok, m = pcall(U.make_parents, self.path .. "/x")
    if not ok then U.job_fail(self, m) end
    made = m
  end
  local before = old and old.outputs and old.outputs.files or {}
  local new, gone = diff(before, self.files)
  local n = #U.sorted_keys(self.files)
  print(("%s: %d files, %d new, %d gone"):format(self.path, n, #new, #gone))
  return { path = self.path, files = self.files, new = new, gone = gone, count = n,
           made_dirs = U.union(old and old.outputs and old.outputs.made_dirs, made) }
end

M.Folder = ochre.component "Folder" {
  doc = "A watched folder: changes when (at least min_new) new files arrive.",
  breaks = { "path" },
  fields = {
    path = ochre.required,
    min_new = 1,       -- how many new or changed files make it change
    pattern = false,   -- a Lua pattern the names must match, e.g. "%.csv$"
    hidden = false,    -- whether names starting with '.' count
    files = {},        -- set by read: name -> SHA-256 as of the last change
  },
  validate = check,
  read = function(self)
    check(self)
    local known = self.outputs and self.outputs.files or {}
    local now = scan(self)
    local new = diff(known, now)
    -- Removals alone never count: they are noticed with the next change.
    self.files = #new >= self.min_new and now or copy(known)
  end,
  create = function(self) return apply(self) end,
  update = function(self, old) return apply(self, old) end,
  delete = function(self)
    -- The files are not ours: only the folders it made, if they are empty.
    U.remove_empty(self.outputs and self.outputs.made_dirs)
  end,
}

return M
