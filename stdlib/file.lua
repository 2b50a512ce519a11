-- ochre.File: a file with the declared content and mode. Its read notices drift (the file
-- changed, vanished or lost its mode) and the next apply writes it again.
local ochre = require "ochre"
local S = require "ochre.filesync"
local U = require "ochre.util"

local M = {}

M.File = ochre.component "File" {
  doc = "A file with the declared content and mode; drift is noticed and repaired.",
  breaks = { "path" },
  fields = {
    path = ochre.required,  -- relative paths are relative to the working directory
    content = "",
    mode = false,           -- an octal string like "0644"; false leaves the default
    inputs = {},            -- instances applied first (and deleted after)
    repairs = 0,            -- set by read: how many times drift was repaired
  },
  validate = function(self)
    S.check(self)
    U.check_field(self, "content", "string", true)
  end,
  read = S.read,
  create = function(self)
    U.check_field(self, "content", "string", true)
    return S.write(self, self.content)
  end,
  update = function(self, old)
    U.check_field(self, "content", "string", true)
    return S.write(self, self.content, old)
  end,
  delete = S.remove,
}

return M
