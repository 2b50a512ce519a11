-- Data: raw CSV files -> cleaned CSVs -> a SQLite table each -> one full-text index.
--
-- Shows plans that follow the data. Each raw file is a Csv whose read hook records its
-- SHA-256. A Command cleans it (drops comment lines and trailing blanks) and says what
-- it produces: the cleaned file's SHA-256 goes into its outputs, and a Command with
-- `produces` is `cutoff`. Load's read hook hashes the cleaned file, which does not exist
-- (or is stale) when the run is planned: Load is decided after its Command ran, read
-- and hashed again then. So:
--   - the first run settles: the next plan is empty;
--   - editing raw/sales.csv re-runs only its chain (clean-sales, Load/sales, the index);
--   - an edit the cleaning throws away (a comment line) re-runs clean-sales and stops
--     there: its outputs are as before, so Load/sales and the index are "unchanged".
--
--   cd examples/data && ochre run pipeline.lua
--   sqlite3 warehouse.db "SELECT source, id FROM search WHERE search MATCH 'compilers'"
local ochre = require "ochre"
local sql = ochre.sqlite

-- A raw input file, as its content's SHA-256 (false while it is missing).
local Csv = ochre.component "Csv" {
  fields = { path = ochre.required, digest = false },
  read = function(self) self.digest = ochre.sha256_file(self.path) or false end,
}

-- Loads the file a cleaning Command produced into a table of its own.
local Load = ochre.component "Load" {
  fields = { db = "warehouse.db", table = ochre.required, clean = ochre.required, digest = false },
  read = function(self) self.digest = ochre.sha256_file(self:file()) or false end,
  create = function(self) return self:load() end,
  update = function(self) return self:load() end,
  delete = function(self)
    sql.exec(self.db, ("DROP TABLE IF EXISTS %s;"):format(sql.ident(self.table)))
  end,

  file = function(self) return self.clean.produces[1] end,
  load = function(self)
    local t = sql.ident(self.table)
    local script = { "BEGIN IMMEDIATE;", ("DROP TABLE IF EXISTS %s;"):format(t),
                     ("CREATE TABLE %s (id TEXT PRIMARY KEY, name TEXT, notes TEXT);"):format(t) }
    local n = 0
    for line in assert(io.open(self:file())):lines() do
      local id, name, notes = line:match("^([^,]*),([^,]*),(.*)$")
      if id then
        n = n + 1
        script[#script + 1] = ("INSERT INTO %s VALUES (%s, %s, %s);")
          :format(t, sql.literal(id), sql.literal(name), sql.literal(notes))
      end
    end
    script[#script + 1] = "COMMIT;"
    sql.exec(self.db, table.concat(script, "\n"))
    print(("loaded %d rows into %s"):format(n, self.table))
    return { rows = n }
  end,
}

-- One FTS5 index over every loaded table, rebuilt when one of them changed.
local Index = ochre.component "Index" {
  fields = { db = "warehouse.db", tables = ochre.required },
  create = function(self) return self:build() end,
  update = function(self) return self:build() end,
  delete = function(self) sql.exec(self.db, "DROP TABLE IF EXISTS search;") end,

  build = function(self)
    local script = { "BEGIN IMMEDIATE;", "DROP TABLE IF EXISTS search;",
                     "CREATE VIRTUAL TABLE search USING fts5(source UNINDEXED, id UNINDEXED, text);" }
    local rows = 0
    for _, load in ipairs(self.tables) do
      script[#script + 1] = ("INSERT INTO search SELECT %s, id, name || ' ' || notes FROM %s;")
        :format(sql.literal(load.table), sql.ident(load.table))
      rows = rows + load.outputs.rows
    end
    script[#script + 1] = "COMMIT;"
    sql.exec(self.db, table.concat(script, "\n"))
    print(("indexed %d rows from %d tables"):format(rows, #self.tables))
    return { rows = rows }
  end,
}

local loads = {}
for _, name in ipairs({ "customers", "sales" }) do
  local raw = Csv(name) { path = "raw/" .. name .. ".csv" }
  local clean = ochre.Command("clean-" .. name) {
    command = "mkdir -p clean && grep -v '^#' {{inputs.raw.path}} | sed 's/[[:space:]]*$//' > {{produces.1}}",
    inputs = { raw = raw },
    produces = { "clean/" .. name .. ".csv" },
  }
  loads[#loads + 1] = Load(name) { table = name, clean = clean }
end

return Index "search" { tables = loads }
