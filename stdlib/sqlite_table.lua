-- ochre.SqliteTable: a table with a schema in a SQLite database, and optionally its rows.
-- The database, the table's name and its columns are breaking: changing them drops the
-- table and creates it anew. Declared rows are kept in sync by key: an update writes only
-- the rows that changed and deletes those that went. Its read notices drift (the table
-- is gone, its schema or its rows were changed behind ochre's back) and the next apply
-- repairs it.
local ochre = require "ochre"
local U = require "ochre.util"
local sqlite = require("ochre.sqlite").sqlite

local M = {}

local CONSTRAINT = { PRIMARY = true, UNIQUE = true, CHECK = true, FOREIGN = true, CONSTRAINT = true }

-- The column names of the `columns` field, in order; checks the fields.
local function check(self)
  U.check_field(self, "db", "string")
  U.check_field(self, "name", "string")
  if type(self.columns) ~= "table" or #self.columns == 0 then
    U.job_fail(self, 'field \'columns\' must be a list like { "id INTEGER PRIMARY KEY", "title TEXT" }')
  end
  local names, known = {}, {}
  for i, def in ipairs(self.columns) do
    if type(def) ~= "string" or not def:match("^%s*[%w_]+") then
      U.job_fail(self, ("columns[%d] must be a column definition like \"title TEXT\""):format(i))
    end
    local word = def:match("^%s*([%w_]+)")
    if not CONSTRAINT[word:upper()] then
      names[#names + 1] = word
      known[word] = true
    end
  end
  local key = U.check_field(self, "key", "string", true) or names[1]
  if not known[key] then U.job_fail(self, ("key '%s' is not one of the columns"):format(key)) end
  local rows = self.rows
  if rows ~= false and type(rows) ~= "table" then
    U.job_fail(self, "field 'rows' must be a list of rows (tables of column = value) or false")
  end
  local seen = {}
  for i, row in ipairs(rows or {}) do
    if type(row) ~= "table" then U.job_fail(self, ("rows[%d] is not a table"):format(i)) end
    for col in pairs(row) do
      if not known[col] then
        U.job_fail(self, ("rows[%d] has a value for '%s', which is not a column"):format(i, tostring(col)))
      end
    end
    local k = row[key]
    if k == nil then U.job_fail(self, ("rows[%d] has no value for the key column '%s'"):format(i, key)) end
    if seen[k] then U.job_fail(self, ("rows[%d] repeats key %s"):format(i, U.describe(k))) end
    seen[k] = true
  end
  return names, key
end

local function schema_sql(self)
  local rows = sqlite.query(self.db,
    ("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s"):format(sqlite.literal(self.name)))
  return rows[1] and rows[1].sql
end

-- A digest of the table's content, ordered by key: what read compares.
local function content_digest(self, key)
  local r = ochre.sh(("sqlite3 -json %s %s"):format(U.quote(self.db),
    U.quote(("SELECT * FROM %s ORDER BY %s"):format(sqlite.ident(self.name), sqlite.ident(key)))),
    { quiet = true })
  if r.code ~= 0 then return nil end
  return ochre.sha256(r.stdout)
end

local function insert_sql(self, names, row)
  local cols, vals = {}, {}
  for _, c in ipairs(names) do
    cols[#cols + 1] = sqlite.ident(c)
    vals[#vals + 1] = sqlite.literal(row[c])
  end
  return ("INSERT OR REPLACE INTO %s (%s) VALUES (%s);\n")
    :format(sqlite.ident(self.name), table.concat(cols, ", "), table.concat(vals, ", "))
end

local function delete_sql(self, key, k)
  return ("DELETE FROM %s WHERE %s = %s;\n"):format(sqlite.ident(self.name), sqlite.ident(key), sqlite.literal(k))
end

local function by_key(rows, key)
  local t = {}
  for _, row in ipairs(rows or {}) do t[row[key]] = row end
  return t
end

local function same_row(a, b, names)
  for _, c in ipairs(names) do
    if a[c] ~= b[c] then return false end
  end
  return true
end

-- Makes the table what the declaration says. `old` is the stored version (update).
local function sync(self, old)
  local names, key = check(self)
  local made, made_db = {}, false
  if not ochre.fs.exists(self.db) then
    local ok, m = pcall(U.make_parents, self.db)
    if not ok then U.job_fail(self, m) end
    made, made_db = m, true
  end
  local out = old and old.outputs or {}
  local sql, written, deleted = { "BEGIN;\n" }, 0, 0
  local exists = schema_sql(self) ~= nil
  local full = not exists or not old or out.content == nil or content_digest(self, key) ~= out.content
  if not exists then
    sql[#sql + 1] = ("CREATE TABLE %s (%s);\n"):format(sqlite.ident(self.name), table.concat(self.columns, ", "))
  end
  if self.rows and full then
    if exists then sql[#sql + 1] = ("DELETE FROM %s;\n"):format(sqlite.ident(self.name)) end
    for _, row in ipairs(self.rows) do
      sql[#sql + 1] = insert_sql(self, names, row)
      written = written + 1
    end
  elseif self.rows then
    local before = by_key(old.rows, key)
    local now = by_key(self.rows, key)
    for _, row in ipairs(self.rows) do
      local was = before[row[key]]
      if not was or not same_row(was, row, names) then
        sql[#sql + 1] = insert_sql(self, names, row)
        written = written + 1
      end
    end
    for _, row in ipairs(old.rows or {}) do
      if now[row[key]] == nil then
        sql[#sql + 1] = delete_sql(self, key, row[key])
        deleted = deleted + 1
      end
    end
  end
  sql[#sql + 1] = "COMMIT;\n"
  local ok, err = pcall(sqlite.exec, self.db, table.concat(sql))
  if not ok then U.job_fail(self, err) end
  if self.rows then print(("%s: %d rows written, %d deleted"):format(self.name, written, deleted)) end
  return {
    db = self.db, name = self.name, sql = schema_sql(self),
    content = self.rows and content_digest(self, key) or nil,
    rows = self.rows and #self.rows or nil, written = written, deleted = deleted,
    repairs = self.repairs,
    made_dirs = U.union(out.made_dirs, made), made_db = made_db or out.made_db or false,
  }
end

M.SqliteTable = ochre.component "SqliteTable" {
  doc = "A table with a schema in a SQLite database, and optionally its rows.",
  breaks = { "db", "name", "columns" },
  fields = {
    db = ochre.required,       -- the database file (made when missing)
    name = ochre.required,     -- the table's name
    columns = ochre.required,  -- { "id INTEGER PRIMARY KEY", "title TEXT NOT NULL", ... }
    key = false,               -- the column rows are matched by; false: the first column
    rows = false,              -- false: rows are not managed; else a list of rows
    inputs = {},               -- instances applied first (and deleted after)
    repairs = 0,               -- set by read: how many times drift was repaired
  },
  validate = check,
  read = function(self)
    local _, key = check(self)
    local out = self.outputs or {}
    local applied = out.sql ~= nil and out.db == self.db and out.name == self.name
    local in_sync = false
    if applied and ochre.fs.exists(self.db) then
      in_sync = schema_sql(self) == out.sql
        and (not self.rows or out.content == nil or content_digest(self, key) == out.content)
    end
    U.note_drift(self, applied, in_sync)
  end,
  create = function(self) return sync(self) end,
  update = function(self, old) return sync(self, old) end,
  delete = function(self)
    if not ochre.fs.exists(self.db) then return end
    local ok, err = pcall(sqlite.exec, self.db, ("DROP TABLE IF EXISTS %s;"):format(sqlite.ident(self.name)))
    if not ok then U.job_fail(self, err) end
    local out = self.outputs or {}
    if out.made_db and #sqlite.query(self.db, "SELECT name FROM sqlite_master") == 0 then
      for _, suffix in ipairs({ "", "-journal", "-wal", "-shm" }) do ochre.fs.remove(self.db .. suffix) end
      U.remove_empty(out.made_dirs)
    end
  end,
}

return M
