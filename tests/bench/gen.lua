-- Writes a benchmark pipeline of N components with empty hooks, in one of four shapes:
--   leaves  N independent leaves under one root
--   groups  N/100 groups of 100 leaves under one root
--   chain   a chain of N links
--   dag     a random DAG with diamonds (each node depends on up to 3 earlier ones)
-- usage: luajit gen.lua SHAPE N [changed]   (changed: one leaf differs)
local shape, n, changed = arg[1], tonumber(arg[2]), arg[3] == "changed"
local w = {}
local function out(s) w[#w + 1] = s end
out('local ochre = require "ochre"')
out('local Leaf = ochre.component "Leaf" { fields = { v = 0 } }')
out('local Group = ochre.component "Group" { fields = { members = {} } }')
out('local Link = ochre.component "Link" { fields = { prev = false, v = 0 } }')
out('local Node = ochre.component "Node" { fields = { deps = {}, v = 0 } }')
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
