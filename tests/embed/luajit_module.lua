-- `require "ochre"` from plain LuaJIT: the engine as a module, ochre.apply for real.
-- Run by the suite as: luajit luajit_module.lua STATE_PATH (with LUA_CPATH set).
local state = assert(arg[1], "usage: luajit luajit_module.lua STATE")
local ochre = require "ochre"

local log = {}
local Step = ochre.component "Step" {
  fields = { n = 0, after = false },
  create = function(self) log[#log + 1] = "create " .. self.identifier; return { n = self.n } end,
  update = function(self) log[#log + 1] = "update " .. self.identifier end,
  delete = function(self) log[#log + 1] = "delete " .. self.identifier end,
}
local function pipeline(n)
  local a = Step "a" { n = 1 }
  return Step "b" { n = n, after = a }
end

local function check(cond, msg) if not cond then io.stderr:write("FAILED: ", msg, "\n") os.exit(1) end end

local plan = ochre.plan(pipeline(2), { state = state, quiet = true })
check(#plan == 2 and plan[1].key == "Step/a" and plan[2].deps[1] == 0, "plan has two jobs in order")
local r = ochre.apply(pipeline(2), { state = state, quiet = true })
check(r.ok and r.done == 2, "first apply: " .. r.summary)
check(table.concat(log, ",") == "create a,create b", "hooks ran: " .. table.concat(log, ","))
r = ochre.apply(pipeline(2), { state = state, quiet = true })
check(r.ok and r.done == 0 and r.summary:find("No changes"), "second apply does nothing: " .. r.summary)
r = ochre.apply(pipeline(3), { state = state, quiet = true })
check(r.done == 1 and log[#log] == "update b", "a change updates one: " .. r.summary)
r = ochre.destroy(pipeline(3), { state = state, quiet = true })
check(r.done == 2 and log[#log] == "delete a", "destroy deletes both, child last")
print("luajit module: 5 checks passed")
