-- ochre.render: `{{name}}` substitution. Safe by construction: a placeholder names a
-- value (dotted for nested keys: `{{db.host}}`), never code; inserted text is not
-- scanned again; an unknown name or a table where text is due is an error naming the
-- placeholder and its line. `{{{{` writes a literal `{{`. Template and Command use it.
local U = require "ochre.util"

local M = {}

-- Looks up `key` in `v`, a plain table or an instance (whose __index raises on an
-- unknown field). Returns found, value.
local function lookup(v, key)
  if type(v) ~= "table" then return false end
  local ok, x = pcall(function() return v[key] end)
  if not ok or x == nil then
    local n = tonumber(key)
    if n then ok, x = pcall(function() return v[n] end) end
  end
  return ok and x ~= nil, x
end

local function text_of(v, name)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.14g"):format(v)
  end
  if t == "boolean" then return tostring(v) end
  return nil, ("'%s' is a %s, not text; name a value inside it"):format(name, t)
end

-- render(template, vars [, quote]) -> text, or nil and the reason. `quote`, if given,
-- is applied to every inserted value (Command uses shell quoting).
function M.try_render(template, vars, quote)
  local out, pos, line = {}, 1, 1
  while true do
    local s, e = template:find("{{", pos, true)
    if not s then break end
    local before = template:sub(pos, s - 1)
    out[#out + 1] = before
    local _, nl = before:gsub("\n", "")
    line = line + nl
    if template:sub(e + 1, e + 2) == "{{" then
      out[#out + 1] = "{{"
      pos = e + 3
    else
      local close = template:find("}}", e + 1, true)
      if not close then return nil, ("unclosed '{{' on line %d"):format(line) end
      local name = template:sub(e + 1, close - 1):match("^%s*(.-)%s*$")
      if not name:match("^[%w_]+[%w_%.]*$") or name:find("..", 1, true) or name:sub(-1) == "." then
        return nil, ("bad placeholder '{{%s}}' on line %d (write {{name}} or {{a.b}})")
          :format(name, line)
      end
      local v = vars
      for part in name:gmatch("[^%.]+") do
        local found
        found, v = lookup(v, part)
        if not found then
          return nil, ("unknown name '%s' on line %d"):format(name, line)
        end
      end
      local text, why = text_of(v, name)
      if not text then return nil, why .. (" (line %d)"):format(line) end
      out[#out + 1] = quote and quote(text) or text
      pos = close + 2
    end
  end
  out[#out + 1] = template:sub(pos)
  return table.concat(out)
end

-- ochre.render(template, vars): the rendered text; errors point at the caller's line.
function M.render(template, vars)
  if type(template) ~= "string" then U.fail("ochre.render takes a template string and a table of values") end
  if vars ~= nil and type(vars) ~= "table" then U.fail("ochre.render: the values must be a table") end
  local text, err = M.try_render(template, vars or {})
  if not text then U.fail("ochre.render: " .. err) end
  return text
end

return M
