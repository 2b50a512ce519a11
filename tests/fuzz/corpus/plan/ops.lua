-- Ops: a quick ops script. A config directory rendered from templates, a service file,
-- and a command that reloads the service only when the configuration changed.
--
-- Shows: the stdlib's Dir, Template, File and Command together; settings in one Lua
-- table, rendered into the templates ({{db.host}}); ochre.render for a one-off text;
-- ordering through `inputs` (the directories first, the reload after the files it
-- reads). Change a setting and the templates that use it and the reload run; change
-- the service file and only it is written; edit a rendered file by hand and the next
-- run puts it back (and reloads). Everything lives under root/, so it runs anywhere.
--
--   cd examples/ops && ochre run pipeline.lua
local ochre = require "ochre"

-- The settings of each config file (templates/<name>.conf.tmpl renders settings.<name>),
-- so a change re-renders only the file that uses it.
local settings = {
  app = {
    port = 8080,
    workers = 4,
    db = { host = "localhost", port = 5432, name = "myapp" },
  },
  logging = { level = "info", file = "/var/log/myapp.log" },
}
local description = "My app"

local etc = ochre.Dir "etc" { path = "root/etc" }
local conf_dir = ochre.Dir "myapp" { path = "root/etc/myapp", inputs = { etc } }
local log_dir = ochre.Dir "log" { path = "root/var/log", inputs = { etc } }

-- One rendered file per template in templates/.
local configs = {}
for _, name in ipairs(assert(ochre.fs.list("templates"))) do
  local file = name:gsub("%.tmpl$", "")
  local key = file:gsub("%.conf$", "")
  configs[key] = ochre.Template(file) {
    path = conf_dir.path .. "/" .. file,
    template = assert(ochre.fs.read("templates/" .. name)),
    vars = settings[key],
    mode = "0640",
    inputs = { conf_dir },
  }
end

local service = ochre.File "myapp.service" {
  path = "root/etc/systemd/myapp.service",
  content = ochre.render([[
[Unit]
Description={{description}}

[Service]
ExecStart=/usr/local/bin/myapp --config /etc/myapp/app.conf
ExecReload=/bin/kill -HUP $MAINPID
]], { description = description }),
  inputs = { etc },
}

local reload = ochre.Command "reload" {
  command = "sh reload.sh {{inputs.app.path}} {{inputs.logging.path}}",
  delete_command = "rm -f root/var/log/myapp-reloads.log",
  inputs = { app = configs.app, logging = configs.logging, log_dir = log_dir },
}

return { service, reload }
