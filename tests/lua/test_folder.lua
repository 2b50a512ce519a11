-- ochre.Folder: records the files with their SHA-256; with min_new = 2 it changes only
-- once two files are new or changed; its outputs tell a dependent which files are new.
local ochre = require "ochre"
local t = require "steps"

local Seen = ochre.component "Seen" {
  fields = { folder = ochre.required },
  create = function(self) print("new: " .. table.concat(self.folder.outputs.new, ",")) end,
  update = function(self) print("new: " .. table.concat(self.folder.outputs.new, ",")) end,
}

local function pipeline()
  return Seen "seen" { folder = ochre.Folder "inbox" { path = "inbox", min_new = 2, pattern = "%.txt$" } }
end

return t.run {
  { name = "create makes the folder; nothing new yet", roots = pipeline,
    plan = { "CREATE Folder/inbox", "CREATE Seen/seen" }, out = { "inbox: 0 files, 0 new", "new: \n" },
    check = function() t.eq(ochre.fs.stat("inbox").type, "directory", "inbox") end },
  { name = "one new file is not enough",
    before = function() t.write("inbox/a.txt", "a") t.write("inbox/ignored.csv", "x") t.write("inbox/.hidden.txt", "h") end,
    plan = {} },
  { name = "two new files change the folder and its user",
    before = function() t.write("inbox/b.txt", "b") end,
    plan = { "UPDATE Folder/inbox", "UPDATE Seen/seen" }, out = { "inbox: 2 files, 2 new, 0 gone", "new: a.txt,b.txt" } },
  { name = "nothing to do", plan = {} },
  { name = "a changed file and a new one count as two",
    before = function() t.write("inbox/a.txt", "a2") t.write("inbox/c.txt", "c") end,
    plan = { "UPDATE Folder/inbox", "UPDATE Seen/seen" }, out = { "new: a.txt,c.txt" } },
  { name = "removals alone change nothing",
    before = function() assert(ochre.fs.remove("inbox/a.txt")) end, plan = {} },
  { name = "they are noticed with the next change",
    before = function() t.write("inbox/d.txt", "d") t.write("inbox/e.txt", "e") end,
    plan = { "UPDATE Folder/inbox", "UPDATE Seen/seen" }, out = { "inbox: 4 files, 2 new, 1 gone" } },
  destroy_plan = { "DELETE Seen/seen", "DELETE Folder/inbox" },
  destroyed = function()
    t.ok(ochre.fs.exists("inbox/b.txt"), "the files in the folder are not ochre's: they stay")
  end,
}
