-- ochre.log: leveled messages. In a hook they go to the job's output (shown as
-- "[Type/id] ..." and stored in the journal); while the pipeline loads, warnings and
-- errors go to stderr. OCHRE_LOG=debug|info|warn|error|quiet sets the threshold (info).
local U = require "ochre.util"

local M = {}
local log = {}
M.log = log

local LEVELS = { debug = 1, info = 2, warn = 3, error = 4, quiet = 5 }

local function threshold()
  return LEVELS[(os.getenv("OCHRE_LOG") or ""):lower()] or LEVELS.info
end

local function emit(level, fmt, ...)
  if type(fmt) ~= "string" then U.fail(("ochre.log.%s takes a message (a format string)"):format(level)) end
  local ok, msg = pcall(string.format, fmt, ...)
  if not ok then U.fail(("ochre.log.%s: %s"):format(level, (msg:gsub("^.-:%d+: ", "")))) end
  if LEVELS[level] < threshold() then return end
  local text = level == "info" and msg or level .. ": " .. msg
  if coroutine.running() == nil and LEVELS[level] >= LEVELS.warn then
    io.stderr:write(text, "\n")
  else
    print(text)
  end
end

-- ochre.log.info("copied %d files", n), and likewise debug, warn, error.
for name in pairs(LEVELS) do
  if name ~= "quiet" then log[name] = function(fmt, ...) emit(name, fmt, ...) end end
end

return M
