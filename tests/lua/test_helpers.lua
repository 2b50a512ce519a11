-- The helpers: ochre.env, ochre.log, ochre.quote, ochre.sqlite, with ochre.json,
-- ochre.sha256 and ochre.fs; their errors point at the caller's line.
local ochre = require "ochre"
local t = require "steps"

-- Raises fn's error and checks it names this file at the line of the call (the next line).
local function raises_here(fn, part)
  local line = debug.getinfo(2, "l").currentline + 1
  local err = t.raises(fn, part)
  t.has(err, "test_helpers.lua:" .. line .. ":", "position of " .. part)
end

-- ochre.env (NO_COLOR=1 and OCHRE_TEST_STEP are set by the driver)
t.eq(ochre.env.get("OCHRE_SURELY_UNSET", "dflt"), "dflt", "env.get default")
t.eq(ochre.env.get("NO_COLOR"), "1", "env.get")
t.eq(ochre.env.flag("NO_COLOR"), true, "env.flag")
t.eq(ochre.env.flag("OCHRE_SURELY_UNSET"), false, "env.flag unset")
t.eq(ochre.env.number("OCHRE_TEST_STEP") >= 1, true, "env.number")
t.eq(ochre.env.number("OCHRE_SURELY_UNSET", 7), 7, "env.number default")
raises_here(function()
  ochre.env.required("OCHRE_SURELY_UNSET") end, "environment variable OCHRE_SURELY_UNSET is not set")
raises_here(function()
  ochre.env.number("HOME") end, "is not a number")
raises_here(function()
  ochre.env.get(42) end, "ochre.env.get takes a variable name")

-- Helpers define no component types: a pipeline may have its own "Template" and render.
ochre.component "Template" { fields = { x = 1 } }
t.eq(ochre.render("{{a}}", { a = 1 }), "1", "render beside a type of the pipeline's named Template")

-- ochre.quote
t.eq(ochre.quote("it's"), [['it'\''s']], "quote")
t.eq(ochre.sh("printf %s " .. ochre.quote("a 'b' $c")).stdout, "a 'b' $c", "quote through sh")

-- ochre.log: bad calls
raises_here(function()
  ochre.log.info({}) end, "ochre.log.info takes a message")
raises_here(function()
  ochre.log.warn("%d", "x") end, "ochre.log.warn: bad argument")

-- ochre.sqlite
t.eq(ochre.sqlite.literal("a'b"), "'a''b'", "literal")
t.eq(ochre.sqlite.literal(nil), "NULL", "NULL")
t.eq(ochre.sqlite.literal(true), "1", "boolean")
t.eq(ochre.sqlite.literal(2.5), "2.5", "float")
t.eq(ochre.sqlite.ident('we"ird'), '"we""ird"', "ident")
t.eq(#ochre.sqlite.query(":memory:", "SELECT 1 WHERE 0"), 0, "empty query")
t.eq(ochre.sqlite.query(":memory:", "SELECT 1 AS one, 'x' AS s")[1].s, "x", "query")
raises_here(function()
  ochre.sqlite.exec(":memory:", "SELEC 1") end, "ochre.sqlite.exec: :memory:")

-- json, sha256, fs
t.eq(ochre.json.decode(ochre.json.encode({ a = { 1, 2 } })).a[2], 2, "json")
t.eq(ochre.sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256")
t.eq(select(2, ochre.fs.read("surely/missing")) ~= nil, true, "fs.read reports")

-- Logging from hooks goes to the job's output.
local Logger = ochre.component "Logger" {
  fields = { n = 1 },
  create = function(self)
    ochre.log.info("made %d thing%s", self.n, self.n == 1 and "" or "s")
    ochre.log.warn("look out")
    ochre.log.debug("not shown at the default level")
  end,
}

return t.run {
  { name = "log lines are the job's output", roots = function() return Logger "l" {} end,
    plan = { "CREATE Logger/l" }, out = { "[Logger/l] made 1 thing\n", "[Logger/l] warn: look out" },
    check = function() end },
  { name = "nothing to do", plan = {} },
}
