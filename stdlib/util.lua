-- Shared helpers of the stdlib modules (not exported as ochre.X): errors at the user's
-- line, field checks, octal modes, shell quoting, parent directories made and unmade,
-- and drift accounting.
local ochre = require "ochre"

local U = {}

-- "file:line: " of the nearest caller outside ochre's own Lua (chunks "=[ochre ...]").
local function user_site()
  for level = 3, 40 do
    local i = debug.getinfo(level, "Sl")
    if not i then break end
    if i.what ~= "C" and (i.currentline or -1) > 0 and i.source:sub(1, 7) ~= "=[ochre" then
      return i.short_src .. ":" .. i.currentline .. ": "
    end
  end
  return ""
end

-- Raises `msg` at the user's line, however deep in the stdlib it is found.
function U.fail(msg)
  error(user_site() .. msg, 0)
end

-- Raises "Type/id: msg" without a position: for hooks, whose job already names the hook.
function U.job_fail(self, msg)
  error(tostring(self) .. ": " .. msg, 0)
end

function U.describe(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return type(v) .. (type(v) == "number" and " " .. tostring(v) or "")
end

-- Checks that field `name` of `self` has Lua type `want` (or is false or nil, meaning
-- not set, when `optional`). Returns the value, nil when not set.
function U.check_field(self, name, want, optional)
  local v = self[name]
  if (v == nil or v == false) and optional then return nil end
  if type(v) ~= want or (want == "string" and v == "" and not optional) then
    U.job_fail(self, ("field '%s' must be a%s %s (got %s)")
      :format(name, want == "string" and " non-empty" or "", want, U.describe(v)))
  end
  return v
end

-- The number of an octal mode string ("0644", "755"), or nil when not set (false).
function U.mode(self, field)
  local m = self[field or "mode"]
  if m == nil or m == false then return nil end
  if type(m) ~= "string" or not m:match("^0?[0-7][0-7][0-7][0-7]?$") then
    U.job_fail(self, ("field 'mode' must be an octal string like \"0644\" (got %s)"):format(U.describe(m)))
  end
  return tonumber(m, 8)
end

-- The text between single quotes, safe to paste into a /bin/sh command.
function U.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function U.dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

-- Makes the missing parent directories of `path`; returns those it made, outermost first.
function U.make_parents(path)
  local missing = {}
  local d = U.dirname(path)
  while d ~= "." and d ~= "/" and not ochre.fs.exists(d) do
    table.insert(missing, 1, d)
    d = U.dirname(d)
  end
  if #missing > 0 then
    local ok, err = ochre.fs.mkdir(missing[#missing])
    if not ok then error(err, 0) end
  end
  return missing
end

-- Removes the directories of `dirs` (outermost first) that are empty, innermost first.
function U.remove_empty(dirs)
  for i = #(dirs or {}), 1, -1 do
    local names = ochre.fs.list(dirs[i])
    if names and #names == 0 then ochre.fs.remove(dirs[i]) end
  end
end

-- `a` followed by the entries of `b` not in it.
function U.union(a, b)
  local out, seen = {}, {}
  for _, list in ipairs({ a or {}, b or {} }) do
    for _, v in ipairs(list) do
      if not seen[v] then seen[v] = true out[#out + 1] = v end
    end
  end
  return out
end

-- Drift accounting for components whose `read` checks the world against what their last
-- apply made. `repairs` counts the times the world was found changed: read raises it by
-- one when `in_sync` is false, which changes the hash and plans an UPDATE; the hook
-- returns it in its outputs, so the next read starts from the same number and a repaired
-- world plans nothing. Before the first apply there is nothing to compare with.
function U.note_drift(self, applied, in_sync)
  local before = self.outputs and self.outputs.repairs or 0
  self.repairs = before + ((applied and not in_sync) and 1 or 0)
end

-- Sorted keys of a table.
function U.sorted_keys(t)
  local keys = {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) < type(b)
  end)
  return keys
end

return U
