-- Writes a benchmark pipeline of N components in one of four shapes:
--   leaves  N independent leaves under one root
--   groups  N/100 groups of 100 leaves under one root
--   chain   a chain of N links
--   dag     a random DAG with diamonds (each node depends on up to 3 earlier ones)
-- usage: luajit gen.lua SHAPE N [changed] [hooks|sh]
--        changed: one leaf differs; hooks: every type has Lua create, update and delete
--        hooks that do nothing; sh: they each run `ochre.sh("true")` (a process per job);
--        neither: types without hooks (the engine applies them without entering Lua)
--        luajit gen.lua SHAPE N ninja|make    the same graph for a peer: one `touch`
--        target per component, depending on the targets of its sub-components
--        luajit gen.lua SHAPE N ninjalog MTIME  the .ninja_log a build of that graph
--        leaves when every output's mtime is MTIME (nanoseconds): with the outputs
--        touched, ninja starts from its no-op without a process per target
local shape, n = arg[1], tonumber(arg[2])
local flags = {}
for i = 3, #arg do flags[arg[i]] = true end
local changed = flags.changed
local w = {}
local function out(s) w[#w + 1] = s end

-- The peers' graph: name -> the names it depends on, in the order they are declared.
local function peer_graph()
  local targets = {}
  local function add(name, deps) targets[#targets + 1] = { name, deps or {} } end
  if shape == "leaves" then
    local all = {}
    for i = 1, n do add("l" .. i) all[i] = "l" .. i end
    add("root", all)
  elseif shape == "groups" then
    local gs = {}
    for g = 1, math.floor(n / 100) do
      local m = {}
      for i = 1, 100 do add(g .. "_" .. i) m[i] = g .. "_" .. i end
      add("g" .. g, m)
      gs[g] = "g" .. g
    end
    add("root", gs)
  elseif shape == "chain" then
    for i = 1, n do add("c" .. i, i > 1 and { "c" .. (i - 1) } or nil) end
  elseif shape == "dag" then  -- the same draws as the pipeline's, so the same graph
    local seed, all, seen = 12345, {}, {}
    for i = 1, n do
      local deps, have = {}, {}
      for _ = 1, 3 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        local d = i > 1 and "n" .. (1 + seed % (i - 1))
        if d and not have[d] then have[d] = true deps[#deps + 1] = d end
      end
      add("n" .. i, deps)
      all[i] = "n" .. i
    end
    add("root", all)
  end
  return targets
end

-- ninja's hash of a command line (MurmurHash64A with its seed, as in build_log.cc).
local function ninja_hash(s)
  local bit = require "bit"
  local m = 0xc6a4a7935bd1e995ULL
  local h = bit.bxor(0xDECAFBADDECAFBADULL, #s * m)
  local i = 1
  while #s - i + 1 >= 8 do
    local k = 0ULL
    for j = 7, 0, -1 do k = bit.bor(bit.lshift(k, 8), s:byte(i + j)) end
    k = k * m
    k = bit.bxor(k, bit.rshift(k, 47))
    k = k * m
    h = bit.bxor(h, k) * m
    i = i + 8
  end
  local rest = #s - i + 1
  if rest > 0 then
    for j = rest - 1, 0, -1 do h = bit.bxor(h, bit.lshift(0ULL + s:byte(i + j), 8 * j)) end
    h = h * m
  end
  h = bit.bxor(h, bit.rshift(h, 47)) * m
  h = bit.bxor(h, bit.rshift(h, 47))
  return (bit.tohex(h):gsub("^0+", ""))
end

if arg[3] == "ninjalog" then
  local mtime = arg[4]
  out("# ninja log v5")
  for _, t in ipairs(peer_graph()) do
    local path = "out/" .. t[1]
    out(("0\t0\t%s\t%s\t%s"):format(mtime, path, ninja_hash("touch " .. path)))
  end
  io.write(table.concat(w, "\n"), "\n")
  return
end

if arg[3] == "ninja" or arg[3] == "make" then
  local function path(name) return "out/" .. name end
  if arg[3] == "ninja" then
    out("rule touch")
    out("  command = touch $out")
  else
    out("all: out/" .. (shape == "chain" and "c" .. n or "root"))
    out("out/%:")
    out("\t@mkdir -p out && touch $@")
  end
  for _, t in ipairs(peer_graph()) do
    local deps = {}
    for i, d in ipairs(t[2]) do deps[i] = path(d) end
    if arg[3] == "ninja" then
      out(("build %s: touch %s"):format(path(t[1]), table.concat(deps, " ")))
    elseif #deps > 0 then
      out(("%s: %s"):format(path(t[1]), table.concat(deps, " ")))
    end
  end
  io.write(table.concat(w, "\n"), "\n")
  return
end
out('local ochre = require "ochre"')
local hooks = ""
if flags.hooks then
  hooks = ", create = function(self) end, update = function(self) end, delete = function(self) end"
elseif flags.sh then
  out('local function sh(self) ochre.sh("true") end')
  hooks = ", create = sh, update = sh, delete = sh"
end
out(('local Leaf = ochre.component "Leaf" { fields = { v = 0 }%s }'):format(hooks))
out(('local Group = ochre.component "Group" { fields = { members = {} }%s }'):format(hooks))
out(('local Link = ochre.component "Link" { fields = { prev = false, v = 0 }%s }'):format(hooks))
out(('local Node = ochre.component "Node" { fields = { deps = {}, v = 0 }%s }'):format(hooks))
out(('local CHANGED = %s'):format(tostring(changed)))
if shape == "leaves" then
  out(('local m = {} for i = 1, %d do m[i] = Leaf("l" .. i) { v = (CHANGED and i == 1) and -1 or i } end'):format(n))
  out('return Group "root" { members = m }')
elseif shape == "groups" then
  out(('local gs = {} for g = 1, %d do local m = {} for i = 1, 100 do'):format(math.floor(n / 100)))
  out('  m[i] = Leaf(g .. "_" .. i) { v = (CHANGED and g == 1 and i == 1) and -1 or i } end')
  out('  gs[g] = Group("g" .. g) { members = m } end')
  out('return Group "root" { members = gs }')
elseif shape == "chain" then
  out(('local prev = false for i = 1, %d do prev = Link("c" .. i) { prev = prev, v = (CHANGED and i == 1) and -1 or 0 } end'):format(n))
  out('return prev')
elseif shape == "dag" then
  out(('local nodes, seed = {}, 12345 for i = 1, %d do'):format(n))
  out('  local deps = {}')
  out('  for k = 1, 3 do seed = (seed * 1103515245 + 12345) % 2147483648')
  out('    if i > 1 then deps[#deps + 1] = nodes[1 + seed % (i - 1)] end end')
  out('  nodes[i] = Node("n" .. i) { deps = deps, v = (CHANGED and i == 1) and -1 or 0 } end')
  out('return Group "root" { members = nodes }')
else
  error("unknown shape " .. tostring(shape))
end
io.write(table.concat(w, "\n"), "\n")
