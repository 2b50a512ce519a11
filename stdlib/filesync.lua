-- What File and Template share: writing a file whole with its mode, noticing drift (the
-- file changed, vanished or lost its mode since the last apply), and removing the file
-- with the parent directories the writes made.
local ochre = require "ochre"
local U = require "ochre.util"

local S = {}

-- Checks the fields every managed file has.
function S.check(self)
  U.check_field(self, "path", "string")
  return U.mode(self)
end

-- read: sets `repairs` when the file is no longer what the last apply wrote.
function S.read(self)
  local mode = S.check(self)
  local out = self.outputs or {}
  local applied = out.sha256 ~= nil and out.path == self.path
  local in_sync = false
  if applied then
    local st = ochre.fs.stat(self.path)
    in_sync = st ~= nil and st.type == "file" and (mode == nil or st.mode == mode)
      and ochre.sha256_file(self.path) == out.sha256
  end
  U.note_drift(self, applied, in_sync)
end

-- create/update: writes `content`; returns the outputs. `old` is the stored version.
function S.write(self, content, old)
  local mode = S.check(self)
  local ok, made = pcall(U.make_parents, self.path)
  if not ok then U.job_fail(self, made) end
  local done, err = ochre.fs.write(self.path, content, mode)
  if not done then U.job_fail(self, "cannot write " .. err) end
  local before = old and old.outputs and old.outputs.made_dirs
  return {
    path = self.path,
    sha256 = ochre.sha256(content),
    size = #content,
    repairs = self.repairs,
    made_dirs = U.union(before, made),
  }
end

-- delete: removes the file (self is the stored version) and the directories made for it.
function S.remove(self)
  local st = ochre.fs.stat(self.path)
  if st and st.type ~= "directory" then
    local ok, err = ochre.fs.remove(self.path)
    if not ok then U.job_fail(self, "cannot remove " .. err) end
  end
  U.remove_empty(self.outputs and self.outputs.made_dirs)
end

return S
