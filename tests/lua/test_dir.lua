-- ochre.Dir: makes nested directories, repairs a removed one or a changed mode, and on
-- delete removes only the directories it made, and only when empty.
local ochre = require "ochre"
local t = require "steps"

local function dirs()
  return {
    ochre.Dir "made" { path = "existing/a/b", mode = "0750" },
    ochre.Dir "existing" { path = "existing" },
  }
end

return t.run {
  { name = "create makes what is missing",
    before = function() assert(ochre.fs.mkdir("existing")) end,
    roots = dirs, plan = { "CREATE Dir/made", "CREATE Dir/existing" },
    check = function()
      t.eq(ochre.fs.stat("existing/a/b").type, "directory", "type")
      t.eq(ochre.fs.stat("existing/a/b").mode, tonumber("750", 8), "mode")
    end },
  { name = "nothing to do", plan = {} },
  { name = "a removed directory is made again",
    before = function() assert(ochre.fs.remove("existing/a")) end,
    plan = { "UPDATE Dir/made" },
    check = function() t.ok(ochre.fs.exists("existing/a/b"), "existing/a/b is back") end },
  { name = "a changed mode is repaired",
    before = function() ochre.sh_ok("chmod 0700 existing/a/b") end,
    plan = { "UPDATE Dir/made" },
    check = function() t.eq(ochre.fs.stat("existing/a/b").mode, tonumber("750", 8), "mode") end },
  { name = "nothing to do after repairs", plan = {} },
  { name = "a file in the way fails the job",
    roots = function() return ochre.Dir "blocked" { path = "existing/file" } end,
    before = function() t.write("existing/file", "x") end,
    code = 1, plan = { "CREATE Dir/blocked", "DELETE Dir/made", "DELETE Dir/existing" },
    out = { "exists and is not a directory" },
    check = function()
      t.ok(not ochre.fs.exists("existing/a"), "the directories Dir/made made are gone")
      t.ok(ochre.fs.exists("existing"), "existing/ was not made by ochre and holds a file")
      assert(ochre.fs.remove("existing/file"))
    end },
  { name = "the retry succeeds", plan = { "CREATE Dir/blocked" } },
  destroy_plan = { "DELETE Dir/blocked" },
  destroyed = function()
    t.ok(ochre.fs.exists("existing"), "existing/ stays: Dir/existing did not make it")
    t.ok(not ochre.fs.exists("existing/file"), "existing/file is gone")
  end,
}
