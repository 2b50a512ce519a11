// ochre test, ochre enter and ochre watch, driven as a user would.
#include <catch2/catch.hpp>

#include <csignal>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

const char* const tested = R"(local ochre = require "ochre"
local C = ochre.component "C" {
  fields = { n = 1 },
  create = function(self) print("made " .. self.n) return { sq = self.n * self.n } end,
  test = function(self) assert(self.outputs.sq == self.n * self.n, "wrong square") end,
  enter = function(self)
    io.write("entered ", self.identifier, " sq=", tostring(self.outputs.sq), "\n")
    print("said " .. tostring(io.read("*l")))
  end,
}
ochre.test("arithmetic", function() assert(2 + 2 == 4) end)
ochre.test "commands run" (function()
  assert(ochre.sh("echo hi", { quiet = true }).stdout == "hi\n")
end)
%EXTRA%
return C "c" { n = 3 }
)";

std::string with(const std::string& extra) {
  std::string t = tested;
  t.replace(t.find("%EXTRA%"), 7, extra);
  return t;
}

}  // namespace

TEST_CASE("ochre test applies into a throw-away state, runs the tests, destroys", "[e2e][commands][test]") {
  TempDir dir;
  dir.write("pipeline.lua", with(""));
  auto r = dir.ochre({"test", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "[C/c] made 3\n") == 1);
  CHECK(count(r.out, "ok      test arithmetic\n") == 1);
  CHECK(count(r.out, "ok      test commands run\n") == 1);
  CHECK(count(r.out, "ok      C/c:test\n") == 1);
  CHECK(count(r.out, "destroy: 1 done\n") == 1);
  CHECK(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1) == "3 passed, 0 failed\n");
  CHECK_FALSE(dir.exists(".ochre"));  // the user's state is never touched

  std::string broken = with(R"(ochre.test("broken", function() error("it broke") end)  -- BROKEN)");
  dir.write("pipeline.lua", broken);
  auto r2 = dir.ochre({"test", "pipeline.lua"});
  INFO(r2.out << r2.err);
  CHECK(r2.code == 1);
  CHECK(count(r2.out, "FAILED  test broken: pipeline.lua:" + std::to_string(e2e::line_of(broken, "-- BROKEN")) +
                          ": it broke") == 1);
  r = r2;
  CHECK(count(r.out, "3 passed, 1 failed\n") == 1);
  CHECK(count(r.out, "destroy: 1 done\n") == 1);  // destroyed even when a test failed
}

TEST_CASE("ochre enter calls a method of an applied instance with the terminal", "[e2e][commands][enter]") {
  TempDir dir;
  dir.write("pipeline.lua", with(""));
  auto r = dir.ochre({"enter", "pipeline.lua", "C/c"});
  CHECK(r.code == 2);
  CHECK(r.err.find("C/c is not applied yet") != std::string::npos);

  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  r = dir.ochre({"enter", "pipeline.lua", "C/c"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  // Plain terminal output: no job prefix; stdin is the process's (here /dev/null).
  CHECK(r.out == "entered c sq=9\nsaid nil\n");
  r = dir.ochre({"enter", "pipeline.lua", "C/c", "test"});
  CHECK(r.code == 0);
  r = dir.ochre({"enter", "pipeline.lua", "C/c", "nope"});
  CHECK(r.code == 2);
  CHECK(r.err.find("C/c has no method 'nope'") != std::string::npos);
  r = dir.ochre({"enter", "pipeline.lua", "C/zz"});
  CHECK(r.code == 2);
  r = dir.ochre({"enter", "pipeline.lua"});
  CHECK(r.code == 2);
}

TEST_CASE("ochre watch re-applies when a watched folder changes and stops on Ctrl-C", "[e2e][commands][watch]") {
  TempDir dir;
  dir.write("in/.keep", "");
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local Watched = ochre.component "Watched" {
  fields = { path = ochre.required, files = {} },
  read = function(self) self.files = ochre.fs.list(self.path) or {} end,
  create = function(self) print("files " .. #self.files) end,
  update = function(self) print("files now " .. #self.files) end,
}
return Watched "in" { path = "in" }
)");
  auto p = dir.start({"watch", "pipeline.lua"});
  REQUIRE(e2e::wait_until([&] { return p->out_so_far().find("cycle 1: 1 done") != std::string::npos; }));
  dir.write("in/a.txt", "a");
  REQUIRE(e2e::wait_until([&] { return p->out_so_far().find("cycle 2: 1 done") != std::string::npos; }));
  CHECK(p->out_so_far().find("[Watched/in] files now 2") != std::string::npos);
  REQUIRE(p->signal(SIGINT));
  auto r = p->wait();
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("stopped watching") != std::string::npos);
  CHECK(dir.query("SELECT count(*) FROM runs") == std::vector<std::string>{"2"});
}

TEST_CASE("ochre watch --every runs on a schedule and rejects bad durations", "[e2e][commands][watch]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local Tick = ochre.component "Tick" {
  fields = { at = 0 },
  read = function(self) local n = ochre.fs.read("n") self.at = tonumber(n) or 0 end,
  create = function(self) print("tick " .. self.at) end,
  update = function(self) print("tick " .. self.at) end,
}
return Tick "t" {}
)");
  dir.write("n", "1");
  auto p = dir.start({"watch", "pipeline.lua", "--every", "200ms"});
  REQUIRE(e2e::wait_until([&] { return p->out_so_far().find("cycle 2: nothing to do") != std::string::npos; }));
  CHECK(p->signal(SIGTERM));
  CHECK(p->wait().code == 0);
  auto r = dir.ochre({"watch", "pipeline.lua", "--every", "soon"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--every takes a duration") != std::string::npos);
}

TEST_CASE("hook commands run through ochre-spawn beside ochre, or through ochre __spawn without it",
          "[e2e][commands][spawn]") {
  TempDir dir;
  dir.write("pipeline.lua", R"lua(local ochre = require "ochre"
local C = ochre.component "C" {
  create = function(self)  -- the shell's parent is the helper
    print((ochre.sh_ok("echo by-$(cat /proc/$PPID/comm)", { quiet = true }).stdout:gsub("\n$", "")))
  end,
}
return C "c"
)lua");
  // Beside the binary under test: ochre-spawn runs the command.
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "[C/c] by-ochre-spawn\n") == 1);

  // A copy of ochre alone: the same, through its own __spawn mode.
  REQUIRE(dir.run({"/bin/mkdir", "bin"}).code == 0);
  REQUIRE(dir.run({"/bin/cp", OCHRE_BIN, dir.file("bin/ochre")}).code == 0);
  r = dir.run({dir.file("bin/ochre"), "run", "pipeline.lua", "--state", "other.db"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "[C/c] by-ochre\n") == 1);
}

TEST_CASE("hook commands start from one helper per ochre, started anew if it dies under a command",
          "[e2e][commands][spawn]") {
  TempDir dir;
  dir.write("pipeline.lua", R"lua(local ochre = require "ochre"
local function helper() return (ochre.sh("echo $PPID", { quiet = true }).stdout:gsub("\n$", "")) end
local C = ochre.component "C" {
  create = function(self)
    local first = helper()
    print("one helper: " .. tostring(first == helper()))
    -- Its commands can no longer be followed: they are killed and reported so.
    local r = ochre.sh("kill -9 $PPID; exec sleep 30", { quiet = true })
    print("killed: " .. tostring(r.code) .. " " .. tostring(r.signal))
    print("a new helper: " .. tostring(helper() ~= first))
  end,
}
return C "c"
)lua");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "[C/c] one helper: true\n[C/c] killed: nil 9\n[C/c] a new helper: true\n") == 1);
}
