-- Images: a diamond DAG, download -> (blur, edge) -> collage, each step a shell command
-- (awk over plain PGM images, no network: the "download" copies remote/photo.pgm).
--
-- Shows: a DAG with a shared dependency (download runs once, before both branches);
-- data passing (each step reads its inputs' outputs.path); content-addressed outputs
-- (out/<step>-<sha256 prefix>.pgm) and provenance (an update adds a new version and
-- keeps the old ones, listed in outputs.versions; destroy removes them all).
-- Change one step (EDGE_THRESHOLD below, or edit blur.awk) and only that step and what
-- depends on it run again.
--
--   cd examples/images && ochre run pipeline.lua    # again: nothing to do
local ochre = require "ochre"

local EDGE_THRESHOLD = 40
local BLUR_RADIUS = 1

-- A step: runs `command` with $IN_<NAME> set to each input's output file and $OUT to
-- the file to write; the result is stored under a name derived from its content.
local Step = ochre.component "Step" {
  fields = {
    command = ochre.required,
    inputs = {},         -- name -> Step
    scripts = {},        -- files the command uses: editing one re-runs the step
    script_hashes = {},  -- set by read
  },
  read = function(self)
    local hashes = {}
    for _, name in ipairs(self.scripts) do
      hashes[name] = assert(ochre.sha256_file(name))
    end
    self.script_hashes = hashes
  end,
  create = function(self) return self:run() end,
  update = function(self, old) return self:run(old) end,
  delete = function(self)
    for _, path in ipairs(self.outputs.versions or {}) do ochre.fs.remove(path) end
    local left = ochre.fs.list("out")
    if left and #left == 0 then ochre.fs.remove("out") end
  end,

  -- A method: builds the output, moves it to its content-addressed name.
  run = function(self, old)
    local tmp = "out/.tmp-" .. self.identifier
    local env = { OUT = tmp }
    for name, input in pairs(self.inputs) do env["IN_" .. name:upper()] = input.outputs.path end
    assert(ochre.fs.mkdir("out"))
    ochre.sh_ok(self.command, { env = env })
    local sha = assert(ochre.sha256_file(tmp))
    local path = ("out/%s-%s.pgm"):format(self.identifier, sha:sub(1, 12))
    assert(os.rename(tmp, path))
    local versions = {}
    for _, p in ipairs(old and old.outputs.versions or {}) do
      if p ~= path then versions[#versions + 1] = p end
    end
    versions[#versions + 1] = path
    print(self.identifier .. " -> " .. path)
    return { path = path, sha256 = sha, versions = versions }
  end,
}

local download = Step "download" {
  command = 'cp remote/photo.pgm "$OUT"',
  scripts = { "remote/photo.pgm" },
}
local blur = Step "blur" {
  command = ('awk -v r=%d -f pgm.awk -f blur.awk "$IN_PHOTO" > "$OUT"'):format(BLUR_RADIUS),
  inputs = { photo = download },
  scripts = { "pgm.awk", "blur.awk" },
}
local edge = Step "edge" {
  command = ('awk -v t=%d -f pgm.awk -f edge.awk "$IN_PHOTO" > "$OUT"'):format(EDGE_THRESHOLD),
  inputs = { photo = download },
  scripts = { "pgm.awk", "edge.awk" },
}
return Step "collage" {
  command = 'awk -f pgm.awk -f collage.awk "$IN_LEFT" "$IN_RIGHT" > "$OUT"',
  inputs = { left = blur, right = edge },
  scripts = { "pgm.awk", "collage.awk" },
}
