-- ochre.render and ochre.Template: substitution with nested keys, numbers, literal
-- braces, errors that name the placeholder and its line; a Template file follows its
-- vars and its inputs' outputs and is repaired after drift.
local ochre = require "ochre"
local t = require "steps"

-- The renderer itself, at every load.
t.eq(ochre.render("Hi {{ name }}, {{db.host}}:{{db.port}}", { name = "Ann", db = { host = "h", port = 5432 } }),
  "Hi Ann, h:5432", "render")
t.eq(ochre.render("{{x}} {{y}} {{list.2}}", { x = 0.5, y = true, list = { "a", "b" } }), "0.5 true b", "values")
t.eq(ochre.render("{{{{not a placeholder}}"), "{{not a placeholder}}", "literal braces")
t.eq(ochre.render("{{v}}", { v = "{{w}}", w = "no" }), "{{w}}", "inserted text is not scanned again")
t.has(t.raises(function() ochre.render("a\nb {{missing}}", {}) end), "unknown name 'missing' on line 2", "unknown")
t.has(t.raises(function() ochre.render("{{db}}", { db = {} }) end), "'db' is a table, not text", "table")
t.has(t.raises(function() ochre.render("{{a..b}}", {}) end), "bad placeholder", "bad name")
t.has(t.raises(function() ochre.render("{{a", {}) end), "unclosed '{{' on line 1", "unclosed")
-- Errors point at the caller's line.
local line = debug.getinfo(1, "l").currentline + 1
local err = t.raises(function() ochre.render("{{nope}}", {}) end)
t.has(err, "test_template.lua:" .. line .. ":", "position")

local function pipeline(port, template)
  return function()
    local version = ochre.File "version" { path = "out/VERSION", content = "1.2\n" }
    return ochre.Template "conf" {
      path = "out/app.conf",
      template = template or "port = {{port}}\nversion = {{inputs.v.outputs.sha256}}\n",
      vars = { port = port },
      inputs = { v = version },
    }
  end
end

local function conf() return t.read("out/app.conf") end

return t.run {
  { name = "create renders vars and inputs' outputs", roots = pipeline(80),
    plan = { "CREATE File/version", "CREATE Template/conf" },
    check = function() t.eq(conf(), "port = 80\nversion = " .. ochre.sha256("1.2\n") .. "\n", "rendered") end },
  { name = "nothing to do", plan = {} },
  { name = "a changed value updates", roots = pipeline(8080), plan = { "UPDATE Template/conf" },
    check = function() t.has(conf(), "port = 8080", "rendered") end },
  { name = "drift is repaired", before = function() t.write("out/app.conf", "port = 1\n") end,
    plan = { "UPDATE Template/conf" },
    check = function() t.has(conf(), "port = 8080", "rendered") end },
  { name = "nothing to do after the repair", plan = {} },
  { name = "an unknown name fails the job and leaves the file", roots = pipeline(8080, "{{prot}}"),
    plan = { "UPDATE Template/conf" }, code = 1,
    out = { "Template/conf: template: unknown name 'prot' on line 1" },
    check = function() t.has(conf(), "port = 8080", "unchanged") end },
  destroy_plan = { "DELETE Template/conf", "DELETE File/version" },
  destroyed = function() t.ok(not ochre.fs.exists("out"), "out/ is gone") end,
}
