-- ochre.File: create with parents and mode, no-op, content update, drift (changed,
-- vanished, mode) repaired once, a path change replaces, destroy removes what it made.
local ochre = require "ochre"
local t = require "steps"

local function file(content, path, mode)
  return function()
    return ochre.File "a" { path = path or "out/deep/a.txt", content = content, mode = mode or "0640" }
  end
end

return t.run {
  { name = "create makes the parents and sets the mode",
    roots = file("one\n"), plan = { "CREATE File/a" },
    check = function()
      t.eq(t.read("out/deep/a.txt"), "one\n", "content")
      t.eq(ochre.fs.stat("out/deep/a.txt").mode, tonumber("640", 8), "mode")
    end },
  { name = "the same again does nothing", plan = {} },
  { name = "new content updates", roots = file("two\n"), plan = { "UPDATE File/a" },
    check = function() t.eq(t.read("out/deep/a.txt"), "two\n", "content") end },
  { name = "a changed file is repaired",
    before = function() t.write("out/deep/a.txt", "edited by hand\n") end,
    plan = { "UPDATE File/a" },
    check = function() t.eq(t.read("out/deep/a.txt"), "two\n", "content") end },
  { name = "after a repair nothing to do", plan = {} },
  { name = "a vanished file is repaired",
    before = function() assert(ochre.fs.remove("out/deep/a.txt")) end,
    plan = { "UPDATE File/a" },
    check = function() t.eq(t.read("out/deep/a.txt"), "two\n", "content") end },
  { name = "a changed mode is repaired",
    before = function() ochre.sh_ok("chmod 0777 out/deep/a.txt") end,
    plan = { "UPDATE File/a" },
    check = function() t.eq(ochre.fs.stat("out/deep/a.txt").mode, tonumber("640", 8), "mode") end },
  { name = "nothing to do again", plan = {} },
  { name = "a bad mode is refused where it is declared, naming the field", roots = file("two\n", nil, "644x"),
    code = 2, plan = "*", out = { "File/a", "field 'mode' must be an octal string" } },
  { name = "a new path replaces: the old file goes", roots = file("two\n", "out/b.txt"),
    plan = { "DELETE File/a", "CREATE File/a" },
    check = function()
      t.ok(not ochre.fs.exists("out/deep"), "the old file and the directory made for it are gone")
      t.eq(t.read("out/b.txt"), "two\n", "new file")
    end },
  destroy_plan = { "DELETE File/a" },
  destroyed = function()
    t.ok(not ochre.fs.exists("out"), "out/ is gone")
  end,
}
