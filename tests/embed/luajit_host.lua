-- A long-lived LuaJIT host (an editor, a game) with `require "ochre"`: it runs an edited
-- pipeline file again in the same Lua state and applies it; ochre prints nothing unless
-- asked; failed jobs come back with their errors. Run by the suite as:
--   luajit luajit_host.lua DIR   (with LUA_CPATH set); its stdout must be its last line.
local dir = assert(arg[1], "usage: luajit luajit_host.lua DIR")
local ochre = require "ochre"
local state = dir .. "/state.db"
local checks = 0

local function check(cond, msg)
  if not cond then io.stderr:write("FAILED: ", msg, "\n") os.exit(1) end
  checks = checks + 1
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- The pipeline as a user edits it: the type moves down a line and gains a field.
local pipe = dir .. "/pipe.lua"
write(pipe, [[
local ochre = require "ochre"
local Note = ochre.component "Note" {
  fields = { text = "" },
  create = function(self) print("made " .. self.identifier) end,
  update = function(self) end,
}
return Note "a" { text = "one" }
]])
local r = ochre.apply(dofile(pipe), { state = state })
check(r.ok and r.done == 1, "first apply: " .. r.summary)
check(#r.failures == 0, "no failures on success")

write(pipe, [[
local ochre = require "ochre"
-- a comment moves the type a line down
local Note = ochre.component "Note" {
  fields = { text = "", size = 1 },
  create = function(self) end,
  update = function(self) print("updated " .. self.identifier .. " to " .. self.text) end,
}
return Note "a" { text = "two" }
]])
local lines = {}
r = ochre.apply(dofile(pipe), { state = state, output = function(line) lines[#lines + 1] = line end })
check(r.ok and r.done == 1, "the edited file applies: " .. r.summary)
local text = table.concat(lines, "\n")
check(text:find("[Note/a] updated a to two", 1, true), "the callback gets the job's output: " .. text)
check(text:find("UPDATE", 1, true), "the callback gets the plan table: " .. text)

-- The same file again, unchanged: the type comes again from the same place.
r = ochre.apply(dofile(pipe), { state = state })
check(r.ok and r.done == 0, "unchanged: nothing to do: " .. r.summary)

-- One name declared twice in different places in one load stays an error.
write(pipe, [[
local ochre = require "ochre"
ochre.component "Twice" {}
ochre.component "Twice" {}
]])
local ok, err = pcall(dofile, pipe)
check(not ok and tostring(err):find("component type 'Twice' is already defined at .*pipe.lua:2"),
      "a second declaration in one load: " .. tostring(err))

-- Failed jobs come back with their errors, in the result and (asked) in the output.
write(pipe, [[
local ochre = require "ochre"
local Bad = ochre.component "Bad" {
  create = function(self) error("no disk for " .. self.identifier) end,
}
return { Bad "x" {}, Bad "y" {} }
]])
lines = {}
r = ochre.apply(dofile(pipe), { state = state, output = function(line) lines[#lines + 1] = line end })
check(not r.ok and r.failed == 2 and #r.failures == 2, "two failures: " .. r.summary)
table.sort(r.failures, function(a, b) return a.key < b.key end)
check(r.failures[1].key == "Bad/x" and r.failures[1].action == "create" and r.failures[1].outcome == "failed",
      "the failure names its job")
check(r.failures[1].error:find("no disk for x", 1, true), "with its error: " .. r.failures[1].error)
check(r.failures[2].error:find("no disk for y", 1, true), "each with its own: " .. r.failures[2].error)
check(table.concat(lines, "\n"):find("failed: Bad/x/", 1, true), "the output names it")

-- print = true writes the lines to stdout: the destroy's table is all the suite sees
-- before the last line.
r = ochre.destroy(dofile(pipe), { state = state, print = true })
check(r.ok, "destroy: " .. r.summary)
print("luajit host: " .. checks .. " checks passed")
