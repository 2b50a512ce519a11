-- ochre.SqliteTable: creates the table and its rows; an update writes only the rows that
-- changed (counted) and deletes those that went; a breaking schema change replaces the
-- table; drift (a dropped table, rows edited behind ochre's back) is repaired; delete
-- drops the table and the database ochre made.
local ochre = require "ochre"
local t = require "steps"

local DB = "data/app.db"

local function q(sql) return ochre.sqlite.query(DB, sql) end

local function people(rows, columns)
  return function()
    return ochre.SqliteTable "people" {
      db = DB, name = "people",
      columns = columns or { "id INTEGER PRIMARY KEY", "name TEXT NOT NULL", "age INTEGER" },
      rows = rows,
    }
  end
end

local base = {
  { id = 1, name = "Ann", age = 31 },
  { id = 2, name = "Bob", age = 42 },
  { id = 3, name = "O'Neil" },
}
local edited = {
  { id = 1, name = "Ann", age = 32 },
  { id = 3, name = "O'Neil" },
  { id = 4, name = "Dee", age = 25 },
}

local function names()
  local out = {}
  for _, r in ipairs(q("SELECT name FROM people ORDER BY id")) do out[#out + 1] = r.name end
  return table.concat(out, ",")
end

return t.run {
  { name = "create makes the database, the table and its rows", roots = people(base),
    plan = { "CREATE SqliteTable/people" }, out = { "people: 3 rows written, 0 deleted" },
    check = function()
      t.eq(names(), "Ann,Bob,O'Neil", "rows")
      t.eq(q("SELECT age FROM people WHERE id = 3")[1].age, nil, "NULL")
    end },
  { name = "nothing to do", plan = {} },
  { name = "only changed rows are written", roots = people(edited),
    plan = { "UPDATE SqliteTable/people" }, out = { "people: 2 rows written, 1 deleted" },
    check = function()
      t.eq(names(), "Ann,O'Neil,Dee", "rows")
      t.eq(q("SELECT age FROM people WHERE id = 1")[1].age, 32, "age")
    end },
  { name = "rows edited behind ochre's back are repaired",
    before = function() ochre.sqlite.exec(DB, "UPDATE people SET name = 'Zed' WHERE id = 3;") end,
    plan = { "UPDATE SqliteTable/people" }, out = { "people: 3 rows written" },
    check = function() t.eq(names(), "Ann,O'Neil,Dee", "rows") end },
  { name = "a dropped table is made again",
    before = function() ochre.sqlite.exec(DB, "DROP TABLE people;") end,
    plan = { "UPDATE SqliteTable/people" },
    check = function() t.eq(names(), "Ann,O'Neil,Dee", "rows") end },
  { name = "nothing to do after repairs", plan = {} },
  { name = "a schema change replaces the table",
    roots = people(edited, { "id INTEGER PRIMARY KEY", "name TEXT NOT NULL", "age INTEGER", "email TEXT" }),
    plan = { "DELETE SqliteTable/people", "CREATE SqliteTable/people" },
    check = function()
      t.eq(names(), "Ann,O'Neil,Dee", "rows")
      t.has(q("SELECT sql FROM sqlite_master WHERE name = 'people'")[1].sql, "email TEXT", "schema")
    end },
  { name = "a row naming an unknown column is refused where it is declared",
    roots = people({ { id = 1, nmae = "x" } }), code = 2, plan = "*",
    out = { "rows[1] has a value for 'nmae', which is not a column" } },
  { name = "unmanaged rows are left alone",
    roots = people(false, { "id INTEGER PRIMARY KEY", "name TEXT NOT NULL", "age INTEGER", "email TEXT" }),
    plan = { "UPDATE SqliteTable/people" },
    check = function() t.eq(names(), "Ann,O'Neil,Dee", "rows") end },
  destroy_plan = { "DELETE SqliteTable/people" },
  destroyed = function() t.ok(not ochre.fs.exists("data"), "the database and data/ are gone") end,
}
