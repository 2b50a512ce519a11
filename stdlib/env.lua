-- ochre.env: reading the environment, with defaults and conversions. A value read while
-- the pipeline loads is part of the declaration: changing it changes the plan.
local U = require "ochre.util"

local M = {}
local env = {}
M.env = env

local function name_of(fn, name)
  if type(name) ~= "string" or name == "" then U.fail(("ochre.env.%s takes a variable name"):format(fn)) end
  return name
end

-- ochre.env.get(name [, default]): the variable's value, or `default` when unset or empty.
function env.get(name, default)
  local v = os.getenv(name_of("get", name))
  if v == nil or v == "" then return default end
  return v
end

-- ochre.env.required(name): the value; an error at the caller's line when unset or empty.
function env.required(name)
  local v = os.getenv(name_of("required", name))
  if v == nil or v == "" then U.fail(("environment variable %s is not set"):format(name)) end
  return v
end

-- ochre.env.number(name [, default]): the value as a number.
function env.number(name, default)
  local v = os.getenv(name_of("number", name))
  if v == nil or v == "" then return default end
  local n = tonumber(v)
  if n == nil then U.fail(("environment variable %s is not a number: %q"):format(name, v)) end
  return n
end

local FLAGS = { ["1"] = true, ["true"] = true, yes = true, on = true,
                ["0"] = false, ["false"] = false, no = false, off = false }

-- ochre.env.flag(name [, default]): true for 1/true/yes/on, false for 0/false/no/off.
function env.flag(name, default)
  local v = os.getenv(name_of("flag", name))
  if v == nil or v == "" then return default == true end
  local b = FLAGS[v:lower()]
  if b == nil then U.fail(("environment variable %s is not a flag (1/0, true/false, yes/no, on/off): %q"):format(name, v)) end
  return b
end

return M
