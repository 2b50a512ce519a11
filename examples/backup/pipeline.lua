-- Backup: archive a folder, transfer the archive to a "secure" folder once someone has
-- approved it, then notify.
--
-- Shows: a step that stays pending across runs. The transfer returns
-- ochre.pending "waiting for approval ..." until the approval file for that very archive
-- exists; the run ends (exit 0) saying what is pending, the notification waits, and the
-- next run calls the transfer again. Also: a watched Folder as the source (a new or
-- changed file makes a new archive, which needs a new approval), reproducible archives
-- named by their content, and a stdlib Command using a dependency's outputs.
--
--   cd examples/backup && ochre run pipeline.lua   # pending: it prints the file to make
--   touch approvals/backup-<hash>.ok && ochre run pipeline.lua
local ochre = require "ochre"

local function remove_if_empty(dir)
  local left = ochre.fs.list(dir)
  if left and #left == 0 then ochre.fs.remove(dir) end
end

-- A reproducible .tar.gz of a folder: the same files give the same bytes, and the
-- archive is named after them.
local Archive = ochre.component "Archive" {
  fields = { source = ochre.required, dir = "archives" },
  create = function(self) return self:build() end,
  update = function(self, old)
    local out = self:build()
    if old.outputs.path ~= out.path then ochre.fs.remove(old.outputs.path) end
    return out
  end,
  delete = function(self)
    ochre.fs.remove(self.outputs.path)
    remove_if_empty(self.dir)
  end,
  build = function(self)
    assert(ochre.fs.mkdir(self.dir))
    local tmp = self.dir .. "/.partial.tar.gz"
    ochre.sh_ok(("tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C %s . | gzip -n > %s")
      :format(ochre.quote(self.source.path), ochre.quote(tmp)))
    local sha = assert(ochre.sha256_file(tmp))
    local name = "backup-" .. sha:sub(1, 12) .. ".tar.gz"
    assert(os.rename(tmp, self.dir .. "/" .. name))
    print(("archived %d files into %s"):format(self.source.outputs.count, name))
    return { path = self.dir .. "/" .. name, name = name, sha256 = sha }
  end,
}

-- Copies the archive to `dest` once approvals/<archive name>.ok exists. Earlier copies
-- stay (they are backups); destroy removes them all.
local Transfer = ochre.component "Transfer" {
  fields = { archive = ochre.required, dest = "secure", approvals = "approvals" },
  create = function(self) return self:transfer() end,
  update = function(self, old) return self:transfer(old) end,
  delete = function(self)
    for _, path in ipairs(self.outputs.copies or {}) do ochre.fs.remove(path) end
    remove_if_empty(self.dest)
  end,
  transfer = function(self, old)
    local archive = self.archive.outputs
    local approval = ("%s/%s.ok"):format(self.approvals, archive.name)
    -- Wait a moment (other jobs go on meanwhile), then give up until the next run.
    if not ochre.wait_file(approval, { timeout = 0.2 }) then
      return ochre.pending("waiting for approval: touch " .. approval)
    end
    assert(ochre.fs.mkdir(self.dest))
    local copy = self.dest .. "/" .. archive.name
    assert(ochre.fs.write(copy, assert(ochre.fs.read(archive.path)), tonumber("600", 8)))
    assert(ochre.sha256_file(copy) == archive.sha256, "the copy differs from the archive")
    local copies = old and old.outputs.copies or {}
    if copies[#copies] ~= copy then copies[#copies + 1] = copy end
    print("transferred " .. archive.name .. " to " .. self.dest)
    return { path = copy, name = archive.name, copies = copies }
  end,
}

local data = ochre.Folder "data" { path = "data" }
local archive = Archive "data" { source = data }
local transfer = Transfer "data" { archive = archive }
return ochre.Command "notify" {
  command = "mkdir -p outbox && echo stored {{inputs.transfer.outputs.path}} >> outbox/notifications.txt",
  delete_command = "rm -r outbox",
  inputs = { transfer = transfer },
}
