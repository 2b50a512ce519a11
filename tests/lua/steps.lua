-- A tiny step runner for the stdlib's Lua tests. A test file returns steps.run { ... }:
-- a list of steps, each applied by its own `ochre run` (the driver, test_stdlib.cpp,
-- sets OCHRE_TEST_STEP), then an `ochre destroy` and a last load that checks nothing is
-- left. Each load first runs the previous step's `check` (the world after its apply),
-- then the current step's `before` (changes to the world before its plan), writes what
-- the driver must see into .test/expect, and returns the step's roots.
--
--   { name = "what it shows",
--     before = function() ... end,            -- optional
--     roots = function() return inst end,     -- optional: the previous step's roots
--     plan = { "CREATE File/a" },             -- the jobs planned (any order); {} = none;
--                                             -- "*" = not checked
--     code = 0,                               -- the exit code (default 0)
--     out = { "text" },                       -- texts the output must contain
--     check = function() ... end }            -- optional
--   plus, in the list: destroy_plan = {...}, destroyed = function() ... end
local ochre = require "ochre"

local M = {}

local function fail(msg, level)
  error(msg, (level or 1) + 1)
end

function M.eq(got, want, what)
  if got ~= want then
    fail(("%s: expected %s, got %s"):format(what or "value", ochre.json.encode(want), ochre.json.encode(got)), 2)
  end
end

function M.ok(cond, what)
  if not cond then fail((what or "condition") .. " does not hold", 2) end
end

function M.has(text, part, what)
  if type(text) ~= "string" or not text:find(part, 1, true) then
    fail(("%s: expected to contain %q, got %q"):format(what or "text", part, tostring(text)), 2)
  end
end

-- Calls fn, which must raise an error containing `part`; returns the message.
function M.raises(fn, part, what)
  local ok, err = pcall(fn)
  if ok then fail((what or "call") .. " did not raise", 2) end
  if part and not tostring(err):find(part, 1, true) then
    fail(("%s: expected an error containing %q, got %q"):format(what or "call", part, tostring(err)), 2)
  end
  return err
end

function M.read(path)
  return ochre.fs.read(path)
end

-- Writes a file for the test, its directory made first.
function M.write(path, text)
  local dir = path:match("^(.*)/[^/]*$")
  if dir then assert(ochre.fs.mkdir(dir)) end
  assert(ochre.fs.write(path, text))
end

local function write_expect(lines)
  assert(ochre.fs.mkdir(".test"))
  assert(ochre.fs.write(".test/expect", table.concat(lines, "\n") .. "\n"))
end

local function plan_lines(lines, plan)
  if plan == "*" then
    lines[#lines + 1] = "plan *"
  else
    for _, p in ipairs(plan or {}) do lines[#lines + 1] = "plan " .. p end
  end
end

function M.run(steps)
  local step = tonumber(os.getenv("OCHRE_TEST_STEP") or "")
  if not step then error("run this test through test_stdlib.cpp (OCHRE_TEST_STEP is not set)", 2) end
  local n = #steps
  local prev = steps[math.min(step - 1, n)]
  if step >= 2 and step <= n + 1 and prev.check then prev.check() end
  if step == n + 2 and steps.destroyed then steps.destroyed() end
  local cur = steps[math.min(step, n)]
  if step <= n and cur.before then cur.before() end

  local lines = { "step " .. step, "steps " .. n }
  if step <= n then
    lines[#lines + 1] = "name " .. (cur.name or ("step " .. step))
    lines[#lines + 1] = "code " .. (cur.code or 0)
    plan_lines(lines, cur.plan)
    for _, o in ipairs(cur.out or {}) do lines[#lines + 1] = "out " .. o end
  elseif step == n + 1 then
    lines[#lines + 1] = "name destroy"
    lines[#lines + 1] = "code 0"
    plan_lines(lines, steps.destroy_plan or "*")
  else
    lines[#lines + 1] = "name destroyed"
  end
  write_expect(lines)

  for i = math.min(step, n), 1, -1 do
    if steps[i].roots then return steps[i].roots() end
  end
  error("the first step needs roots", 2)
end

return M
