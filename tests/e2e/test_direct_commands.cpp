// Hook commands of plain words run without the shell (cli/direct_command.hpp): each is
// run both ways here, as written and with " ;" after it (which needs the shell), and
// must give the same exit code, signal, stdout and stderr.
#include <catch2/catch.hpp>

#include <limits.h>
#include <stdlib.h>

#include <cstring>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

bool sh_is_dash() {
  char real[PATH_MAX];
  if (!realpath("/bin/sh", real)) return false;
  const char* base = std::strrchr(real, '/');
  return std::strcmp(base ? base + 1 : real, "dash") == 0;
}

}  // namespace

TEST_CASE("a command without shell syntax runs without the shell, as the shell would run it",
          "[e2e][commands][spawn]") {
  TempDir dir;
  for (auto [name, text] : std::initializer_list<std::pair<const char*, const char*>>{
           {"bin/mine", "#!/bin/sh\necho mine \"$@\"\n"},
           {"parent", "#!/bin/sh\ncat /proc/$PPID/comm\n"},
           {"segv", "#!/bin/sh\nkill -SEGV $$\n"},
           {"intr", "#!/bin/sh\nkill -INT $$\n"},
           {"noshebang", "echo run by $0\n"},
           {"noexec", "#!/bin/sh\necho never\n"},
           {"sub/keep", ""}}) {
    dir.write(name, text);
    if (std::strcmp(name, "noexec") != 0 && std::strcmp(name, "sub/keep") != 0)
      REQUIRE(dir.run({"/bin/chmod", "+x", dir.file(name)}).code == 0);
  }
  dir.write("pipeline.lua", R"lua(local ochre = require "ochre"
local path = "bin:/usr/bin:/bin"
local cases = {
  { "env", { env = { PATH = path, Z_1 = "z", A = "a", ["B-C"] = "dropped", PS1 = "p" } } },
  { "env", { env = { PATH = path, PWD = "/" }, cwd = "sub" } },
  { "env", { env = { PATH = path, PWD = os.getenv("PWD") .. "/sub/../sub" }, cwd = "sub" } },
  { "printenv PWD", { env = { PATH = path, PWD = false } } },
  { "mine  a   b", { env = { PATH = path } } },
  { "mine", { env = { PATH = "/usr/bin:/bin" } } },
  { "nope_prog a b", {} },
  { "/nonexist/x", {} },
  { "ls -d   /   /usr", {} },
  { "true", {} },
  { "false", {} },
  { "./segv", {} },
  { "./intr", {} },
  { "./noexec", {} },
  { "./noshebang", {} },
  { "sleep 5", { timeout = 0.2 } },
}
local function show(r)
  return string.format("code=%s signal=%s timed_out=%s stdout=%q stderr=%q", tostring(r.code), tostring(r.signal),
                       tostring(r.timed_out), r.stdout, r.stderr)
end
local C = ochre.component "C" {
  create = function(self)
    for i, c in ipairs(cases) do
      c[2].quiet = true
      local direct, shell = show(ochre.sh(c[1], c[2])), show(ochre.sh(c[1] .. " ;", c[2]))
      print(i .. " " .. (direct == shell and "same" or "differs: " .. direct .. " | " .. shell))
    end
    print("parent " .. ochre.sh("./parent", { quiet = true }).stdout:gsub("\n", "") .. " then " ..
          ochre.sh("./parent ;", { quiet = true }).stdout:gsub("\n", ""))
    print("builtin " .. ochre.sh("cd /tmp && pwd", { quiet = true }).stdout:gsub("\n", ""))
  end,
}
return C "c"
)lua");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  for (int i = 1; i <= 16; ++i) CHECK(count(r.out, "[C/c] " + std::to_string(i) + " same\n") == 1);
  CHECK(count(r.out, "[C/c] builtin /tmp\n") == 1);
  // The command as written ran straight from the helper, the other from a shell (with
  // dash as /bin/sh: only then are commands run without it).
  if (sh_is_dash()) CHECK(count(r.out, "[C/c] parent ochre-spawn then sh\n") == 1);
}
