-- The component DSL: ochre.component, instances and the validation of their fields.
-- Loaded once per Lua state by the bindings; returns the `ochre` module table and the
-- `internal` table the C++ side reads (types, instance info). Every error is raised at
-- the caller's level, so it points at the user's line, not at this file.
-- Longer than most files on purpose: it is one chunk whose parts share its locals (the
-- REQUIRED and OPTIONAL markers, the instance record key, the catalog's msg, the types);
-- split, each part would need them handed over through `internal`.

local M = {}
local internal = {}

-- The text of catalog message `name` (engine/errors.cpp) with its `{}` filled by the
-- arguments in order. The bindings put the catalog into internal.messages.
local function msg(name, ...)
  local args, i = { ... }, 0
  return (internal.messages[name]:gsub("{}", function()
    i = i + 1
    return tostring(args[i])
  end))
end

local REQUIRED = setmetatable({}, {
  __tostring = function() return "ochre.required" end,
  __metatable = "ochre.required",
})
M.required = REQUIRED

-- ochre.optional: a field with no default that is left out of the instance (not hashed,
-- not stored) until it is given a value. A type can so gain a field without changing
-- the ids of the instances that do not use it.
local OPTIONAL = setmetatable({}, {
  __tostring = function() return "ochre.optional" end,
  __metatable = "ochre.optional",
})
M.optional = OPTIONAL

-- ochre.test("name", fn) or ochre.test "name" (fn): a check `ochre test FILE` runs after
-- applying the pipeline (then it destroys it). fn may use the waiting calls.
internal.tests = {}
function M.test(name, fn)
  if type(name) ~= "string" or name == "" then error(msg("test-name"), 2) end
  local function add(f)
    if type(f) ~= "function" then error(msg("test-function", name), 2) end
    internal.tests[#internal.tests + 1] = { name = name, fn = f }
  end
  if fn == nil then return add end
  add(fn)
end

-- ochre.settings { state = "postgres://...", workspace = "team" }: where the pipeline's
-- state lives. --state / OCHRE_STATE and --workspace / OCHRE_WORKSPACE win over it.
-- { executor = "slurm", slurm = { ... } }: where ochre.sh runs commands by default
-- (bindings/cluster.cpp reads them; --executor wins over executor).
internal.settings = {}
local SETTINGS = { state = true, workspace = true, executor = true, slurm = true, pools = true }
-- pools = { NAME = N }: at most N jobs of the instances whose lifecycle names the pool
-- run at once (see ochre.lifecycle).
internal.settings.pools = {}
local function set_pools(pools)
  if type(pools) ~= "table" or getmetatable(pools) ~= nil then
    error(msg("settings-pools", internal.describe(pools)), 3)
  end
  for name, n in pairs(pools) do
    if type(name) ~= "string" or name == "" then
      error(msg("settings-pools", internal.describe(name)), 3)
    end
    if type(n) ~= "number" or n < 1 or n % 1 ~= 0 or n > 1e6 then
      error(msg("settings-pool-size", name, internal.describe(n)), 3)
    end
    internal.settings.pools[name] = n
  end
end
function M.settings(t)
  if type(t) ~= "table" then
    error(msg("settings-table"), 2)
  end
  for k, v in pairs(t) do
    if not SETTINGS[k] then
      error(msg("settings-unknown", k), 2)
    end
    if k == "pools" then
      set_pools(v)
      goto continue
    end
    if (k == "executor" and v ~= "local" and v ~= "slurm") or (k == "slurm" and type(v) ~= "table") then
      error(msg("settings-executor"), 2)
    elseif k == "slurm" then
      -- checked where a command uses it
    elseif type(v) ~= "string" or v == "" then
      error(msg("settings-string", k, type(v)), 2)
    end
    if k == "workspace" and (#v > 63 or not v:match("^[%w_][%w_.-]*$")) then
      error(msg("settings-workspace", v), 2)
    end
    internal.settings[k] = v
    ::continue::
  end
end

local PENDING_MT = { __metatable = "ochre.pending" }
-- A hook returns ochre.pending "reason" to say it has not finished yet.
function M.pending(reason)
  if reason ~= nil and type(reason) ~= "string" then
    error(msg("pending-reason"), 2)
  end
  return setmetatable({ reason = reason or "pending" }, PENDING_MT)
end
function internal.pending_reason(v)
  if type(v) == "table" and getmetatable(v) == "ochre.pending" then return rawget(v, "reason") end
  return nil
end

-- The waiting calls are natives the bindings put into `internal` (see waits.cpp);
-- these look them up when called.
function M.sleep(seconds) return internal.sleep(seconds) end
function M.wait_file(path, opts) return internal.wait_file(path, opts) end
function M.wait_pid(pid, opts) return internal.wait_pid(pid, opts) end

-- JSON, SHA-256 and the file system: natives in `internal` (natives.cpp). The fs
-- calls return nil and a message on failure, like io.open.
M.json = {
  encode = function(v) return internal.json_encode(v) end,
  decode = function(s) return internal.json_decode(s) end,
}
function M.sha256(s) return internal.sha256(s) end
function M.sha256_file(path) return internal.sha256_file(path) end
M.fs = {
  read = function(path) return internal.fs_read(path) end,
  write = function(path, data, mode) return internal.fs_write(path, data, mode) end,
  exists = function(path) return internal.fs_exists(path) end,
  mkdir = function(path) return internal.fs_mkdir(path) end,
  remove = function(path) return internal.fs_remove(path) end,
  list = function(path) return internal.fs_list(path) end,
  stat = function(path) return internal.fs_stat(path) end,
}

-- The files the pipeline reads while it loads are its inputs, as much as the pipeline
-- file is: `ochre plan --json` lists them and `ochre watch` re-plans when one changes.
-- The bindings set internal.loading while the pipeline's chunk runs.
internal.loading = false
internal.inputs = {}
local input_seen = {}
local function input(path)
  if internal.loading and type(path) == "string" and not input_seen[path] then
    input_seen[path] = true
    internal.inputs[#internal.inputs + 1] = path
  end
end
internal.input = input
do
  local fs_read = M.fs.read
  M.fs.read = function(path)
    local data, err = fs_read(path)
    if data then input(path) end
    return data, err
  end
  local open, lines, do_file, load_file = io.open, io.lines, dofile, loadfile
  io.open = function(path, mode, ...)
    local f, err, code = open(path, mode, ...)
    if f and (mode == nil or tostring(mode):sub(1, 1) == "r") then input(path) end
    return f, err, code
  end
  io.lines = function(path, ...)
    if path ~= nil then input(path) end
    return lines(path, ...)
  end
  dofile = function(path, ...)
    if path ~= nil then input(path) end
    return do_file(path, ...)
  end
  loadfile = function(path, ...)
    local f, err = load_file(path, ...)
    if f and path ~= nil then input(path) end
    return f, err
  end
  -- require of a module under the pipeline's folder (internal.pipeline_dir)
  table.insert(package.loaders, 1, function(name)
    local dir = internal.pipeline_dir
    if not internal.loading or not dir or not package.searchpath then return nil end
    local path = package.searchpath(name, package.path)
    if path and path:sub(1, #dir + 1) == dir .. "/" then input(path) end
    return nil
  end)
end

-- The stdlib's ready components (ochre.File, ...) load on first use: stdlib/index.lua
-- says which embedded module defines each name.
local stdlib_index
setmetatable(M, { __index = function(t, k)
  if stdlib_index == nil then
    local ok, index = pcall(require, "ochre.index")
    stdlib_index = ok and index or false
  end
  local mod = stdlib_index and stdlib_index[k]
  if not mod then return nil end
  local v = require("ochre." .. mod)[k]
  rawset(t, k, v)
  return v
end })

-- os.exit in a hook would end ochre with its jobs half recorded: hooks run as
-- coroutines, and there it raises instead, failing the job. The pipeline file, the
-- REPL and a host's own code (on the main thread) keep the real one.
do
  local real_exit = os.exit
  os.exit = function(...)
    if coroutine.running() ~= nil then
      error(msg("os-exit"), 2)
    end
    return real_exit(...)
  end
end

local function check_command(r, cmd)
  if r.code ~= 0 then
    local why = r.timed_out and msg("command-timed-out") or r.code and msg("command-exited", r.code)
      or msg("command-killed", r.signal)
    local err = r.stderr:gsub("%s+$", "")
    error(msg("command-failed", why, cmd, err ~= "" and "\n" .. err or ""), 3)
  end
  return r
end

-- ochre.sh(cmd [, {env=, cwd=, stdin=, timeout=, quiet=, check=}]) -> {code, stdout, stderr}
-- A non-zero exit is data, unless check = true.
function M.sh(cmd, opts)
  local r = internal.spawn(cmd, opts)
  if r.error then error(r.error, 2) end
  if type(opts) == "table" and opts.check then check_command(r, cmd) end
  return r
end

-- ochre.sh_ok(cmd [, opts]): ochre.sh, raising when the command does not exit 0.
function M.sh_ok(cmd, opts)
  local r = internal.spawn(cmd, opts)
  if r.error then error(r.error, 2) end
  check_command(r, cmd)
  return r
end

local types = {}  -- name -> type
internal.types = types
internal.load = 0      -- loads of a pipeline so far (Session::run_chunk, a host's verbs)
internal.replaced = {} -- types declared again (see M.component)
internal.declared = 0  -- instances declared by the pipeline: the size of its graph, about

-- An instance is a proxy table that holds its record under private keys: its type
-- (under RECORD, which so tells an instance), site, bare (no fields given yet), values
-- and lifecycle (given by ochre.lifecycle). No field name is one of those keys: every
-- field lives in `values`, so every assignment passes through __newindex and is checked
-- at the assigning line. (A side table keyed by instance would be a weak table of every
-- instance, rehashed as it grows and swept by every collection; a record table of its
-- own would be a second table per instance, a million of them in a large pipeline.)
-- The record's entries are read with rawget (or, for those always there, indexing):
-- anything else is looked for among the fields.
local function private_key(name)
  return setmetatable({}, { __tostring = function() return name end, __metatable = name })
end
local RECORD = private_key("ochre.record")
local SITE, BARE, VALUES, LIFECYCLE = private_key("ochre.site"), private_key("ochre.bare"),
                                      private_key("ochre.values"), private_key("ochre.lifecycle")
-- The bindings read records with rawget
internal.RECORD, internal.SITE, internal.VALUES, internal.LIFECYCLE = RECORD, SITE, VALUES, LIFECYCLE

-- `v` when it is an instance (the table that holds its record), else nil.
local function record_of(v)
  if type(v) ~= "table" or rawget(v, RECORD) == nil then return nil end
  return v
end
internal.REQUIRED = REQUIRED
internal.OPTIONAL = OPTIONAL

local HOOKS = { create = true, read = true, update = true, delete = true }
local RESERVED = { identifier = true, outputs = true }

-- "file:line" of the Lua code `level` frames up. A tail call (`return T "x"`) leaves no
-- frame to name; then the pipeline's file stands alone. internal.callsite is a native
-- (natives.cpp, installed once this file has run): debug.getinfo would build a table
-- for every declaration.
internal.pipeline = "?"
local function site(level)
  local callsite = internal.callsite
  return callsite and callsite(level + 1) or internal.pipeline
end

local function distance(a, b)
  local prev, cur = {}, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur[0] = i
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[#b]
end

-- " (did you mean 'x'?)" for the closest of `names`, or "".
local function suggest(name, names)
  local best, best_d
  for _, n in ipairs(names) do
    local d = distance(name, n)
    if not best_d or d < best_d then best, best_d = n, d end
  end
  if best and best_d <= math.max(2, math.floor(#name / 3)) then
    return msg("suggest-near", best)
  end
  if #names == 0 then return msg("suggest-no-fields") end
  return msg("suggest-fields", table.concat(names, ", "))
end
internal.suggest = suggest

local function is_instance(v)
  return record_of(v) ~= nil
end
internal.is_instance = is_instance

local function describe(v)
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t == "table" and is_instance(v) then return tostring(v) end
  return t == "nil" and "nil" or t .. (t == "number" and " " .. tostring(v) or "")
end
internal.describe = describe

local function path_of(base, key)
  if type(key) == "string" and key:match("^[%a_][%w_]*$") then return base .. "." .. key end
  return base .. "[" .. tostring(key) .. "]"
end

-- How deep tables in a field may nest: deeper data would overflow the stacks that
-- convert, encode and hash it (a generated structure gone wrong, most likely).
local MAX_DEPTH = 1000

-- nil when `v` is data a field may hold, else the reason it is not. The path of an
-- element is made only for a nested table or an error: a list of instances or numbers
-- is checked without making a string per element.
local function check_data(v, path, on_path, depth)
  local t = type(v)
  if t == "nil" or t == "boolean" or t == "string" then return nil end
  if t == "number" then
    if v ~= v then return msg("field-nan", path) end
    if v == math.huge or v == -math.huge then return msg("field-infinite", path) end
    return nil
  end
  if t == "table" then
    if rawget(v, RECORD) then return nil end
    if v == REQUIRED or v == OPTIONAL then
      return msg("field-required-value", path)
    end
    if getmetatable(v) ~= nil then
      return msg("field-problem", path, msg("value-metatable"))
    end
    depth = depth + 1
    if depth > MAX_DEPTH then
      return msg("field-too-deep", path:match("^[^%.%[]+"), MAX_DEPTH)
    end
    if on_path[v] then return msg("field-problem", path, msg("value-cycle")) end
    on_path[v] = true
    local kind
    for k, x in pairs(v) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" then
        return msg("field-problem", path, msg("value-key-type", kt))
      end
      if kt == "number" and (k ~= k or k == math.huge or k == -math.huge) then
        return msg("field-key-not-finite", path)
      end
      if kind and kind ~= kt then
        return msg("field-problem", path, msg("value-mixed-keys"))
      end
      kind = kt
      local tx, err = type(x), nil
      if tx == "table" then
        if not rawget(x, RECORD) then err = check_data(x, path_of(path, k), on_path, depth) end
      elseif tx ~= "string" and tx ~= "boolean" and (tx ~= "number" or x ~= x or x == math.huge or x == -math.huge) then
        err = check_data(x, path_of(path, k), on_path, depth)
      end
      if err then return err end
    end
    on_path[v] = nil
    return nil
  end
  return msg("field-problem", path, msg("value-type", t))
end

-- The tables on the path being checked; emptied again by a check that succeeds.
local on_path = {}
local function check_value(v, path)
  local err = check_data(v, path, on_path, 0)
  if err then on_path = {} end
  return err
end
internal.check_value = check_value

local function deep_copy(v)
  if type(v) ~= "table" or rawget(v, RECORD) then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deep_copy(x) end
  return c
end

-- Lifecycle options: how an instance's jobs run, never hashed (engine/lifecycle.hpp).
-- A normalized lifecycle is a flat table, interned by its contents: instances that share
-- options share one table, which the graph builder turns into one engine entry.
local LIFECYCLE_OPTIONS = { "pool", "protect", "retry", "timeout" }
local RETRY_OPTIONS = { "attempts", "backoff", "delay" }
local DEFAULT_LIFECYCLE = { protect = false, attempts = 1, delay = 0, backoff = 1, pool = "", timeout = 0 }
local interned_lifecycles = {}

-- " (did you mean 'x'?)" for a near miss of `name`, else the list of `names`.
local function option_hint(name, names)
  local list = table.concat(names, ", ")
  if type(name) ~= "string" then return msg("hint-list", "options", list) end
  local h = suggest(name, names)
  if h == msg("suggest-fields", list) then h = msg("hint-list", "options", list) end
  return h
end

local function intern_lifecycle(l)
  local key = table.concat({ tostring(l.protect), l.attempts, l.delay, l.backoff, l.timeout, l.pool }, "\0")
  local t = interned_lifecycles[key]
  if not t then
    t = l
    interned_lifecycles[key] = t
  end
  return t
end

-- `base` (a normalized lifecycle) with the options of `opts` over it. An unknown option
-- or a wrong type is raised at `where` (the user's line), naming `what`.
local function merge_lifecycle(base, opts, what, where)
  local function fail(text) error(where .. ": " .. text, 0) end
  if type(opts) ~= "table" or getmetatable(opts) ~= nil or rawget(opts, RECORD) then
    fail(msg("lifecycle-table", what, describe(opts)))
  end
  local l = {}
  for k, v in pairs(base) do l[k] = v end
  local function number(path, v, min, integer)
    if type(v) ~= "number" or v ~= v or v == math.huge or v < min or (integer and v % 1 ~= 0) then
      local want = integer and msg("lifecycle-integer", min) or msg("lifecycle-number", min)
      fail(msg("lifecycle-type", what, path, want, describe(v)))
    end
    return v
  end
  for k, v in pairs(opts) do
    if k == "protect" then
      if type(v) ~= "boolean" then fail(msg("lifecycle-type", what, "protect", "true or false", describe(v))) end
      l.protect = v
    elseif k == "pool" then
      if type(v) ~= "string" or v == "" then
        fail(msg("lifecycle-type", what, "pool", msg("lifecycle-pool-name"), describe(v)))
      end
      l.pool = v
    elseif k == "timeout" then
      l.timeout = number("timeout", v, 0)
    elseif k == "retry" then
      if type(v) ~= "table" or getmetatable(v) ~= nil then
        fail(msg("lifecycle-type", what, "retry", "{ attempts = N, delay = SECONDS, backoff = FACTOR }",
          describe(v)))
      end
      for rk, rv in pairs(v) do
        if rk == "attempts" then l.attempts = number("retry.attempts", rv, 1, true)
        elseif rk == "delay" then l.delay = number("retry.delay", rv, 0)
        elseif rk == "backoff" then l.backoff = number("retry.backoff", rv, 1)
        else fail(msg("lifecycle-unknown", what, "retry." .. tostring(rk), option_hint(rk, RETRY_OPTIONS))) end
      end
    else
      fail(msg("lifecycle-unknown", what, tostring(k), option_hint(k, LIFECYCLE_OPTIONS)))
    end
  end
  return intern_lifecycle(l)
end

-- ochre.lifecycle(instance, { protect = true, ... }): this instance's lifecycle options
-- over its type's; returns the instance. Calling it again adds to what was given.
function M.lifecycle(inst, opts)
  local i = record_of(inst)
  if not i then error(msg("lifecycle-instance", describe(inst)), 2) end
  -- `return ochre.lifecycle(T "x" {...}, {...})` is a tail call: no frame names the
  -- user's line, but the instance's declaration is on it.
  local where = site(2)
  if where == internal.pipeline then where = i[SITE] end
  local base = rawget(i, LIFECYCLE) or i[RECORD].lifecycle or DEFAULT_LIFECYCLE
  rawset(i, LIFECYCLE, merge_lifecycle(base, opts, "ochre.lifecycle(" .. tostring(inst) .. ")", where))
  return inst
end

-- ochre.moved { from = "Type/old", to = "Type/new" } and ochre.removed { key = "Type/id",
-- destroy = false }: read by the bindings (Session::moved, Session::removed) and applied
-- by the engine (engine/moves.hpp). What is wrong is raised at the user's line.
internal.moved, internal.removed = {}, {}
local moved_from = {}

-- Checks `t` has only the entries of `shape` (name -> checker); returns nil or what
-- to show after "(got ...)".
local function bad_entries(t, shape)
  if type(t) ~= "table" or getmetatable(t) ~= nil or is_instance(t) then return describe(t) end
  for k in pairs(t) do
    if not shape[k] then return "an entry " .. describe(k) end
  end
  for name, ok in pairs(shape) do
    if not ok(t[name]) then return name .. " = " .. describe(t[name]) end
  end
end
local function is_key(v)
  return type(v) == "string" and v:match("^[^/]+/.") ~= nil
end
local function type_of(key) return key:match("^([^/]+)/") end

function M.moved(t)
  local bad = bad_entries(t, { from = is_key, to = is_key })
  if bad then error(msg("moved-table", bad), 2) end
  if t.from == t.to then error(msg("moved-table", "from and to both " .. describe(t.to)), 2) end
  if type_of(t.from) ~= type_of(t.to) then error(msg("moved-types", t.from, t.to), 2) end
  local where = site(2)
  local earlier = moved_from[t.from]
  if earlier and earlier.load == internal.load then error(msg("moved-twice", t.from, earlier.site), 2) end
  moved_from[t.from] = { site = where, load = internal.load }
  internal.moved[#internal.moved + 1] = { from = t.from, to = t.to, site = where }
end

function M.removed(t)
  local bad = bad_entries(t, { key = is_key, destroy = function(v) return v == nil or type(v) == "boolean" end })
  if bad then error(msg("removed-table", bad), 2) end
  internal.removed[#internal.removed + 1] = { key = t.key, destroy = t.destroy == true, site = site(2) }
end

local base_methods = {}

-- self:path "name": a file in this instance's own area of the state directory (the
-- directory is created; without a name, the directory itself).
function base_methods.path(self, name)
  if getmetatable(self) == nil or not record_of(self) then
    error(msg("path-method"), 2)
  end
  local dir = internal.instance_dir(tostring(self))
  if name == nil then return dir end
  if type(name) ~= "string" or name == "" or name:sub(1, 1) == "/" then
    error(msg("path-relative"), 2)
  end
  for part in name:gmatch("[^/]+") do
    if part == ".." then error(msg("path-leaves"), 2) end
  end
  return dir .. "/" .. name
end

local function unknown_field(T, k)
  return msg("unknown-field", T.name, k, suggest(tostring(k), T.field_names))
end

local function make_instance_mt(T)
  local mt = { __ochre_type = T }
  function mt.__index(self, k)
    local values = rawget(self, VALUES)
    local v = values[k]
    if v ~= nil then return v end
    if k == "outputs" then  -- made on first use: most instances never have any
      v = {}
      values.outputs = v
      return v
    end
    local m = T.methods[k]
    if m ~= nil then return m end
    m = base_methods[k]
    if m ~= nil then return m end
    if T.fields[k] ~= nil then return nil end
    error(unknown_field(T, k), 2)
  end
  function mt.__newindex(self, k, v)
    local values = rawget(self, VALUES)
    if k == "outputs" then values.outputs = v return end
    if k == "identifier" then error(msg("identifier-fixed", self), 2) end
    if T.fields[k] == nil then error(unknown_field(T, k), 2) end
    local err = check_value(v, k)
    if err then error(tostring(self) .. ": " .. err, 2) end
    values[k] = v
  end
  -- Raised at the declaration's line: the call is often a tail call with no frame.
  local function fail(i, text) error(i[SITE] .. ": " .. text, 0) end
  function mt.__call(self, values)
    local i = self
    if not i[BARE] then
      fail(i, msg("fields-given", self, T.name, i[VALUES].identifier))
    end
    if type(values) ~= "table" or getmetatable(values) ~= nil then
      fail(i, msg("fields-table", self, describe(values)))
    end
    for k, v in pairs(values) do
      if type(k) ~= "string" then
        fail(i, msg("field-name-string", self, describe(k)))
      end
      if RESERVED[k] then fail(i, msg("field-reserved-set", self, k)) end
      if T.fields[k] == nil then fail(i, unknown_field(T, k)) end
      local err = check_value(v, k)
      if err then fail(i, tostring(self) .. ": " .. err) end
      i[VALUES][k] = v
    end
    i[BARE] = false
    local missing = internal.check_required(self)
    if missing then fail(i, missing) end
    -- A type's validate(self) checks the fields where they are declared.
    local validate = T.methods.validate
    if validate then
      local ok, err = pcall(validate, self)
      -- The error's own position (inside validate) gives way to the declaration's.
      if not ok then fail(i, (tostring(err):gsub("^[^:\n]+:%d+: ", ""))) end
    end
    return self
  end
  function mt.__tostring(self)
    return T.name .. "/" .. tostring(rawget(self, VALUES).identifier)
  end
  return mt
end

function internal.check_required(inst, level)
  local T = rawget(inst, RECORD)
  local values = rawget(inst, VALUES)
  for _, f in ipairs(T.field_names) do
    if T.fields[f] == REQUIRED and values[f] == nil then
      local text = msg("missing-field", inst, f)
      if level then error(text, level + 1) end
      return text
    end
  end
  return nil
end

local type_mt = {}
function type_mt.__call(T, identifier)
  if type(identifier) ~= "string" or identifier == "" then
    error(msg("bad-identifier", T.name, describe(identifier), T.name), 2)
  end
  internal.declared = internal.declared + 1
  local values = { identifier = identifier }
  for _, f in ipairs(T.field_names) do
    local d = T.fields[f]
    if d ~= REQUIRED and d ~= OPTIONAL then values[f] = deep_copy(d) end
  end
  return setmetatable({ [RECORD] = T, [SITE] = site(2), [BARE] = true, [VALUES] = values }, T.mt)
end
function type_mt.__tostring(T) return "ochre.component \"" .. T.name .. "\"" end

local SPEC_KEYS = { "breaks", "fields", "sensitive", "cutoff", "create", "read", "update", "delete", "validate",
                    "doc", "lifecycle" }

-- ochre.component "Name" { breaks = {...}, fields = {...}, create = fn, ... }
function M.component(name)
  if type(name) ~= "string" or not name:match("^[%a_][%w_%.%-]*$") then
    error(msg("type-name", describe(name)), 2)
  end
  local defined_at = site(2)
  return function(spec)
    if type(spec) ~= "table" then
      error(msg("type-spec", name, describe(spec)), 2)
    end
    -- A long-lived host runs an edited file again in the same state: a type declared
    -- in an earlier load (internal.load counts them) or again from the same place is
    -- replaced. The replaced table stays referenced: the bindings cache what they read
    -- of a type by its address, which must not come back for another table.
    local old = types[name]
    if old then
      if old.site == "(built in)" or (old.loaded_in == internal.load and old.site ~= defined_at) then
        error(msg("type-defined", name, old.site), 2)
      end
      internal.replaced[#internal.replaced + 1] = old
    end
    local T = { name = name, site = defined_at, loaded_in = internal.load, fields = {}, field_names = {},
                breaks = {}, sensitive = {}, is_sensitive = {}, hooks = {}, methods = {} }
    for k, v in pairs(spec) do
      if type(k) ~= "string" then
        error(msg("type-entry-key", name, describe(k)), 2)
      end
      if type(v) == "function" and k ~= "cutoff" then
        T.methods[k] = v
        if HOOKS[k] then T.hooks[k] = v end
      elseif k ~= "breaks" and k ~= "fields" and k ~= "sensitive" and k ~= "doc" and k ~= "cutoff"
          and k ~= "lifecycle" then
        local hint = suggest(k, SPEC_KEYS)
        if HOOKS[k] then hint = msg("type-hook-not-function") end
        error(msg("type-entry-unknown", name, k, hint), 2)
      end
    end
    -- cutoff = true: dependents react to this type's outputs, not its fields (when an
    -- update leaves its outputs as they were, what changed only through it does not run).
    -- A function(self) decides it for each instance.
    if spec.cutoff ~= nil and type(spec.cutoff) ~= "boolean" and type(spec.cutoff) ~= "function" then
      error(msg("type-cutoff", name, describe(spec.cutoff)), 2)
    end
    T.cutoff = spec.cutoff or false
    -- lifecycle = { ... }: the default lifecycle options of its instances.
    if spec.lifecycle ~= nil then
      T.lifecycle = merge_lifecycle(DEFAULT_LIFECYCLE, spec.lifecycle, 'ochre.component "' .. name .. '" lifecycle',
        site(2))
    end
    local fields = spec.fields or {}
    if type(fields) ~= "table" then
      error(msg("type-fields", name), 2)
    end
    for f, default in pairs(fields) do
      if type(f) ~= "string" or not f:match("^[%a_][%w_]*$") then
        error(msg("type-field-name", name, describe(f)), 2)
      end
      if RESERVED[f] then
        error(msg("type-field-reserved", name, f), 2)
      end
      if T.methods[f] then
        error(msg("type-field-method", name, f), 2)
      end
      if default ~= REQUIRED and default ~= OPTIONAL then
        local err = check_value(default, f)
        if err then error(msg("type-default", name, err), 2) end
      end
      T.fields[f] = default
      T.field_names[#T.field_names + 1] = f
    end
    table.sort(T.field_names)
    local breaks = spec.breaks or {}
    if type(breaks) ~= "table" then
      error(msg("type-breaks", name), 2)
    end
    local seen = {}
    for i, f in ipairs(breaks) do
      if f ~= "identifier" and T.fields[f] == nil then
        error(msg("type-breaks-unknown", name, f, suggest(tostring(f), T.field_names)), 2)
      end
      if seen[f] then error(msg("type-breaks-twice", name, f), 2) end
      seen[f] = true
      T.breaks[i] = f
    end
    -- sensitive: fields whose values ochre never shows (plans, explain, state, history,
    -- --json print "(sensitive)"); they are hashed and stored like any other.
    local sensitive = spec.sensitive or {}
    local entries = 0
    if type(sensitive) == "table" and getmetatable(sensitive) == nil then
      for _ in pairs(sensitive) do entries = entries + 1 end
    end
    if type(sensitive) ~= "table" or getmetatable(sensitive) ~= nil or entries ~= #sensitive then
      error(msg("type-sensitive", name), 2)
    end
    for i, f in ipairs(sensitive) do
      if f == "identifier" then
        error(msg("type-sensitive-identifier", name), 2)
      end
      if type(f) ~= "string" or T.fields[f] == nil then
        error(msg("type-sensitive-unknown", name, f, suggest(tostring(f), T.field_names)), 2)
      end
      if T.is_sensitive[f] then
        error(msg("type-sensitive-twice", name, f), 2)
      end
      T.is_sensitive[f] = true
      T.sensitive[i] = f
    end
    T.mt = make_instance_mt(T)
    types[name] = T
    return setmetatable(T, type_mt)
  end
end

-- The instance of type `T` as stored: no validation, its site is the state. `values`
-- holds its identifier; a metatable of the hook runner's fills in the rest when first
-- read (LuaHookRunner::push_stored).
function internal.stored_instance(T, values)
  return setmetatable({ [RECORD] = T, [SITE] = "(state)", [BARE] = false, [VALUES] = values }, T.mt)
end

function internal.info(inst)
  local i = record_of(inst)
  if not i then return nil end
  return i[RECORD], i[SITE], i[VALUES]
end

-- Readable text of any value, for the REPL: tables pretty-printed with sorted keys,
-- instances as Type/identifier/uuid (the uuid of the last plan).
internal.uuids = {}
function internal.pretty(v, indent, seen)
  indent = indent or ""
  seen = seen or {}
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t ~= "table" then return tostring(v) end
  if rawget(v, RECORD) then
    local key = tostring(v)
    return key .. "/" .. (internal.uuids[key] or "(not planned)")
  end
  if getmetatable(v) == "ochre.required" then return "ochre.required" end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  if #keys == 0 then seen[v] = nil return "{}" end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  local n, is_list = #v, true
  for _, k in ipairs(keys) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then is_list = false break end
  end
  local inner = indent .. "  "
  local parts = {}
  for _, k in ipairs(keys) do
    local val = internal.pretty(v[k], inner, seen)
    if is_list then
      parts[#parts + 1] = inner .. val
    elseif type(k) == "string" and k:match("^[%a_][%w_]*$") then
      parts[#parts + 1] = inner .. k .. " = " .. val
    else
      parts[#parts + 1] = inner .. "[" .. internal.pretty(k, inner, seen) .. "] = " .. val
    end
  end
  seen[v] = nil
  local flat = {}
  for i, p in ipairs(parts) do flat[i] = (p:gsub("^%s+", "")) end
  local one = "{ " .. table.concat(flat, ", ") .. " }"
  if #one <= 72 and not one:find("\n") then return one end
  return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
end

-- ochre.notify { url = "https://...", events = { "run.failed" }, secret = os.getenv "S" }:
-- a webhook the pipeline's applies post their events to, signed with the secret (see
-- README, "Notifications"). May be called several times; without `events`, every event.
internal.notify = {}
local NOTIFY_EVENTS = { "run.started", "run.finished", "run.failed", "job.failed", "component.replaced" }
local NOTIFY_KEYS = { "url", "events", "secret" }
local is_notify_event = {}
for _, e in ipairs(NOTIFY_EVENTS) do is_notify_event[e] = true end

function M.notify(spec)
  if type(spec) ~= "table" or getmetatable(spec) ~= nil then
    error(msg("notify-table", describe(spec)), 2)
  end
  -- " (did you mean 'x'?)" for a near miss of `name`, else the whole list.
  local function hint(name, names, what)
    local h = suggest(name, names)
    if h == msg("suggest-fields", table.concat(names, ", ")) then
      h = msg("hint-list", what, table.concat(names, ", "))
    end
    return h
  end
  for k in pairs(spec) do
    if k ~= "url" and k ~= "events" and k ~= "secret" then
      local h = ""
      if is_notify_event[k] then h = msg("notify-event-as-entry", k)
      elseif type(k) == "string" then h = hint(k, NOTIFY_KEYS, "entries") end
      error(msg("notify-unknown-entry", describe(k), h), 2)
    end
  end
  local url = spec.url
  if url == nil then error(msg("notify-no-url"), 2) end
  if type(url) ~= "string" then
    error(msg("notify-url-type", describe(url)), 2)
  end
  local problem = internal.webhook_url_problem(url)
  if problem then error(msg("notify-url-bad", problem, ("%q"):format(url)), 2) end
  local secret = spec.secret
  if secret == nil or secret == "" then
    error(msg("notify-no-secret"), 2)
  end
  if type(secret) ~= "string" then
    error(msg("notify-secret-type", type(secret)), 2)
  end
  local events = {}
  if spec.events ~= nil then
    local list = spec.events
    local n = 0
    if type(list) == "table" and getmetatable(list) == nil then
      for _ in pairs(list) do n = n + 1 end
    end
    if type(list) ~= "table" or getmetatable(list) ~= nil or n ~= #list or n == 0 then
      error(msg("notify-events", table.concat(NOTIFY_EVENTS, ", ")), 2)
    end
    for i, e in ipairs(list) do
      if not is_notify_event[e] then
        local h = type(e) == "string" and hint(e, NOTIFY_EVENTS, "events")
          or msg("notify-events-hint", table.concat(NOTIFY_EVENTS, ", "))
        error(msg("notify-unknown-event", describe(e), h), 2)
      end
      events[i] = e
    end
  end
  internal.notify[#internal.notify + 1] = { url = url, secret = secret, events = events, site = site(2) }
end

M.Component = M.component "Component" {}
types.Component.site = "(built in)"

return M, internal
