-- Search index: a SQLite FTS5 full-text index kept in sync with a table of documents.
--
-- Shows: the stdlib's SqliteTable holding the documents (one row per file in articles/,
-- rows kept in sync by key), and a SearchIndex component of our own on top of it.
-- Creating it indexes every row; an update re-indexes only the rows whose content
-- changed since the last apply (it keeps a hash per row in its outputs and prints how
-- many it re-indexed: edit one article and it says "re-indexed 1 of 5"); deleting it
-- drops the index. `search` and `ask` are methods you can call on the applied index.
--
--   cd examples/search_index && ochre run pipeline.lua
--   sqlite3 library.db "SELECT id FROM documents_fts WHERE documents_fts MATCH 'water'"
local ochre = require "ochre"
local sql = ochre.sqlite

-- One row per article: its file name, its first line as title, the rest as body.
local rows = {}
for _, name in ipairs(assert(ochre.fs.list("articles"))) do
  local text = assert(ochre.fs.read("articles/" .. name))
  local title, body = text:match("^([^\n]*)\n?(.*)$")
  rows[#rows + 1] = { id = name:gsub("%.txt$", ""), title = title, body = body }
end

local documents = ochre.SqliteTable "documents" {
  db = "library.db",
  name = "documents",
  columns = { "id TEXT PRIMARY KEY", "title TEXT NOT NULL", "body TEXT NOT NULL" },
  rows = rows,
}

local SearchIndex = ochre.component "SearchIndex" {
  breaks = { "tokenizer" },
  fields = { source = ochre.required, tokenizer = "porter unicode61" },

  create = function(self)
    local t = self.source
    sql.exec(t.db, ("CREATE VIRTUAL TABLE %s USING fts5(id UNINDEXED, title, body, tokenize = %s);")
      :format(self:fts(), sql.literal(self.tokenizer)))
    return self:sync({})
  end,
  update = function(self, old) return self:sync(old.outputs.hashes or {}) end,
  delete = function(self)
    sql.exec(self.source.db, ("DROP TABLE IF EXISTS %s;"):format(self:fts()))
  end,

  fts = function(self) return sql.ident(self.source.name .. "_fts") end,

  -- Re-indexes the rows whose hash differs from `before` (id -> hash), drops the gone.
  sync = function(self, before)
    local t = self.source
    local hashes, script, changed, removed, total = {}, { "BEGIN;" }, 0, 0, 0
    for _, row in ipairs(sql.query(t.db, ("SELECT id, title, body FROM %s"):format(sql.ident(t.name)))) do
      local h = ochre.sha256(row.title .. "\0" .. row.body)
      hashes[row.id] = h
      total = total + 1
      if before[row.id] ~= h then
        changed = changed + 1
        script[#script + 1] = ("DELETE FROM %s WHERE id = %s;"):format(self:fts(), sql.literal(row.id))
        script[#script + 1] = ("INSERT INTO %s (id, title, body) VALUES (%s, %s, %s);")
          :format(self:fts(), sql.literal(row.id), sql.literal(row.title), sql.literal(row.body))
      end
    end
    for id in pairs(before) do
      if not hashes[id] then
        removed = removed + 1
        script[#script + 1] = ("DELETE FROM %s WHERE id = %s;"):format(self:fts(), sql.literal(id))
      end
    end
    script[#script + 1] = "COMMIT;"
    sql.exec(t.db, table.concat(script, "\n"))
    print(("re-indexed %d of %d documents, removed %d"):format(changed, total, removed))
    return { hashes = hashes, documents = total, reindexed = changed, removed = removed }
  end,

  -- The ids and titles of the documents matching `query` (FTS5 syntax), best first.
  search = function(self, query)
    return sql.query(self.source.db, ("SELECT id, title FROM %s WHERE %s MATCH %s ORDER BY rank")
      :format(self:fts(), self:fts(), sql.literal(query)))
  end,

  -- An interactive loop: type words, see the matching documents (empty line ends).
  ask = function(self)
    while true do
      io.write("search> ")
      local line = io.read("*l")
      if not line or line == "" then return end
      local ok, hits = pcall(self.search, self, line)
      if not ok then print(hits) end
      for _, hit in ipairs(ok and hits or {}) do print(("  %-10s %s"):format(hit.id, hit.title)) end
    end
  end,
}

return SearchIndex "documents" { source = documents }
