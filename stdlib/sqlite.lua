-- ochre.sqlite: SQL through the `sqlite3` command-line tool (run with ochre.sh, so other
-- jobs go on while it works): exec, query (rows as tables), and quoting of values and
-- names. Every script waits up to 5 s for a database another process holds.
local ochre = require "ochre"
local U = require "ochre.util"

local M = {}
local sqlite = {}
M.sqlite = sqlite

-- A value as an SQL literal: strings quoted, booleans 1/0, nil NULL.
function sqlite.literal(v)
  local t = type(v)
  if v == nil then return "NULL" end
  if t == "boolean" then return v and "1" or "0" end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then U.fail("ochre.sqlite.literal: not a finite number") end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  if t == "string" then return "'" .. v:gsub("'", "''") .. "'" end
  U.fail("ochre.sqlite.literal: cannot write a " .. t .. " as SQL")
end

-- A name (table, column) quoted as an SQL identifier.
function sqlite.ident(name)
  if type(name) ~= "string" or name == "" then U.fail("ochre.sqlite.ident takes a non-empty name") end
  return '"' .. name:gsub('"', '""') .. '"'
end

local function check_db(fn, db, sql)
  if type(db) ~= "string" or db == "" then U.fail(fn .. " takes a database path and SQL text") end
  if type(sql) ~= "string" then U.fail(fn .. " takes a database path and SQL text") end
end

local function run(fn, db, args, sql)
  local r = ochre.sh("sqlite3 -bail " .. args .. U.quote(db), { stdin = ".timeout 5000\n" .. sql, quiet = true })
  if r.code == nil or r.code == 127 then
    U.fail(fn .. ": cannot run sqlite3 (is the sqlite3 command-line tool installed?)")
  end
  if r.code ~= 0 then U.fail(("%s: %s: %s"):format(fn, db, (r.stderr:gsub("%s+$", "")))) end
  return r.stdout
end

-- ochre.sqlite.exec(db, sql): runs the statements; raises on the first error.
function sqlite.exec(db, sql)
  check_db("ochre.sqlite.exec", db, sql)
  run("ochre.sqlite.exec", db, "", sql)
  return true
end

-- ochre.sqlite.query(db, sql) -> a list of rows, each a table of column = value.
function sqlite.query(db, sql)
  check_db("ochre.sqlite.query", db, sql)
  local out = run("ochre.sqlite.query", db, "-json ", sql)
  if out:match("^%s*$") then return {} end
  return ochre.json.decode(out)
end

return M
