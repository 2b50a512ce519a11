-- Watch: a watched folder; once at least 3 new files have arrived in inbox/, a job
-- summarises them (first line, lines, words) into summaries/summary-NNN.txt.
--
-- Shows: ochre.Folder with min_new = 3. Its read hashes the files on every plan, but it
-- changes (and so re-runs what uses it) only when 3 files are new or changed since the
-- last apply; its outputs.new lists them. Run it with `ochre run` whenever you like (one
-- or two new files: nothing to do), or keep it running with `ochre watch`.
--
--   cd examples/watch && ochre run pipeline.lua
--   printf 'a\n' > inbox/a.txt; printf 'b\n' > inbox/b.txt; ochre run pipeline.lua  # nothing
--   printf 'c\n' > inbox/c.txt; ochre run pipeline.lua                              # summary
local ochre = require "ochre"

local function summary_of(path)
  local text = assert(ochre.fs.read(path))
  local _, lines = text:gsub("\n", "")
  if text ~= "" and text:sub(-1) ~= "\n" then lines = lines + 1 end
  local _, words = text:gsub("%S+", "")
  return ("%-14s %3d lines %4d words  %s"):format(path:match("[^/]+$"), lines, words,
    text:match("^[^\n]*"))
end

local Summary = ochre.component "Summary" {
  fields = { inbox = ochre.required, dir = "summaries" },
  create = function(self) return self:summarise({}) end,
  update = function(self, old) return self:summarise(old.outputs.summaries or {}) end,
  delete = function(self)
    for _, path in ipairs(self.outputs.summaries or {}) do ochre.fs.remove(path) end
    local left = ochre.fs.list(self.dir)
    if left and #left == 0 then ochre.fs.remove(self.dir) end
  end,
  summarise = function(self, earlier)
    local new = self.inbox.outputs.new
    local lines = { ("%d new files in %s"):format(#new, self.inbox.path) }
    for _, name in ipairs(new) do lines[#lines + 1] = summary_of(self.inbox.path .. "/" .. name) end
    assert(ochre.fs.mkdir(self.dir))
    local path = ("%s/summary-%03d.txt"):format(self.dir, #earlier + 1)
    assert(ochre.fs.write(path, table.concat(lines, "\n") .. "\n"))
    ochre.log.info("summarised %d new files into %s", #new, path)
    local summaries = { path }
    for i = #earlier, 1, -1 do table.insert(summaries, 1, earlier[i]) end
    return { summaries = summaries, latest = path }
  end,
}

return Summary "inbox" {
  inbox = ochre.Folder "inbox" { path = "inbox", min_new = 3 },
}
