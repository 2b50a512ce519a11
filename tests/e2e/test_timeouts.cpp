// Hooks that run too long (issue 22, finding 1): --timeout and a lifecycle's timeout stop
// a hook waiting on a command or busy in Lua; Ctrl-C twice and SIGTERM stop a busy hook;
// compiled Lua that nothing can interrupt ends the run cleanly. The tests wait on what
// they can observe (files hooks write, the process's end), never on fixed sleeps.
#include <catch2/catch.hpp>

#include <signal.h>

#include <string>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"
#include "e2e/scheduler.hpp"

using e2e::count;
using e2e::sched_prelude;
using e2e::TempDir;

namespace {

// W "cmd" waits on a command forever, W "lua" loops in Lua (interpreted, or compiled when
// the pipeline says JIT = true), W "after" depends on W "cmd"; W "free" is independent.
std::string pipeline(const TempDir& dir, bool jit) {
  return sched_prelude(dir) + "local JIT = " + (jit ? "true" : "false") + R"(
local W = ochre.component "W" {
  fields = { after = false },
  create = function(self)
    append("ran", self.identifier)
    local id = self.identifier
    if id == "cmd" and not exists("cmd-ok") then
      ochre.sh_ok("echo $$ > " .. path("cmd-pid") .. "; exec sleep 300")
    elseif id == "lua" and not exists("lua-ok") then
      if not JIT then jit.off() end
      touch("busy")
      local x = 0
      while true do x = x + 1 end
    end
  end,
}
return { W "after" { after = W "cmd" {} }, W "free" {}, W "lua" {} }
)";
}

std::string outcome_of(const TempDir& dir, int run, const std::string& key) {
  auto rows = dir.query("SELECT outcome || ': ' || coalesce(error, '') FROM jobs WHERE run = " +
                        std::to_string(run) + " AND key = '" + key + "'");
  return rows.empty() ? "?" : rows[0];
}

}  // namespace

TEST_CASE("the run's timeout stops a hook waiting on a command or busy in Lua: the job fails, its "
          "command killed, dependents skipped, other jobs go on",
          "[e2e][timeout]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline(dir, false));
  auto r = dir.ochre({"run", "pipeline.lua", "--timeout", "0.5", "-j", "4"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(count(r.err, "W/cmd: create timed out after 0.5 s") == 1);
  CHECK(count(r.err, "W/lua: create timed out after 0.5 s") == 1);
  CHECK(outcome_of(dir, 1, "W/cmd") == "failed: W/cmd: create timed out after 0.5 s");
  CHECK(outcome_of(dir, 1, "W/lua") == "failed: W/lua: create timed out after 0.5 s");
  CHECK(outcome_of(dir, 1, "W/after") == "skipped: W/cmd failed");
  CHECK(outcome_of(dir, 1, "W/free") == "done: ");
  auto pid = dir.lines("cmd-pid");
  REQUIRE(pid.size() == 1);
  CHECK(e2e::process_gone(std::stoi(pid[0])));
  // The next run retries what timed out.
  dir.write("cmd-ok", "");
  dir.write("lua-ok", "");
  auto again = dir.ochre({"run", "pipeline.lua", "--timeout", "5"});
  INFO(again.out << again.err);
  CHECK(again.code == 0);
  CHECK(count(again.out, "3 done") == 1);
}

TEST_CASE("a negative or non-numeric --timeout is a usage error", "[e2e][timeout]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline(dir, false));
  for (std::string bad : {"-1", "soon", ""}) {
    auto r = dir.ochre({"run", "pipeline.lua", "--timeout", bad});
    CAPTURE(bad, r.err);
    CHECK(r.code == 2);
    CHECK_FALSE(dir.exists("ran"));
  }
}

TEST_CASE("a hook busy in compiled Lua past its timeout ends the run cleanly: exit 1, running "
          "jobs interrupted, commands killed, the next run retries them",
          "[e2e][timeout]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline(dir, true));
  auto r = dir.ochre({"run", "pipeline.lua", "--timeout", "0.5", "-j", "4"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(count(r.err, "W/lua: create timed out or was interrupted, but it is busy in compiled Lua") == 1);
  CHECK(outcome_of(dir, 1, "W/lua") == "interrupted: W/lua: create timed out after 0.5 s");
  CHECK(outcome_of(dir, 1, "W/cmd") == "interrupted: W/cmd: create was interrupted");
  CHECK(dir.query("SELECT outcome FROM runs WHERE id = 1") == std::vector<std::string>{"interrupted"});
  auto pid = dir.lines("cmd-pid");
  if (pid.size() == 1) CHECK(e2e::wait_until([&] { return e2e::process_gone(std::stoi(pid[0])); }, 5));
  dir.write("cmd-ok", "");
  dir.write("lua-ok", "");
  auto again = dir.ochre({"run", "pipeline.lua"});
  INFO(again.out << again.err);
  CHECK(again.code == 0);
  CHECK(outcome_of(dir, 2, "W/lua") == "done: ");
  CHECK(outcome_of(dir, 2, "W/after") == "done: ");
}

TEST_CASE("Ctrl-C then SIGTERM stop a hook busy in Lua, as two Ctrl-C stop a waiting one",
          "[e2e][timeout][interrupt]") {
  bool jit = GENERATE(false, true);
  CAPTURE(jit);
  TempDir dir;
  dir.write("pipeline.lua", pipeline(dir, jit));
  auto p = dir.start({"run", "pipeline.lua", "-j", "4"});
  REQUIRE(dir.wait_for_file("busy"));
  REQUIRE(p->signal_group(SIGINT));
  REQUIRE(p->signal(SIGTERM));  // a different signal: never merged with the first
  REQUIRE(e2e::wait_until([&] { return !p->running(); }, 20));
  auto r = p->wait();
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(outcome_of(dir, 1, "W/lua") == "interrupted: W/lua: create was interrupted");
  CHECK(dir.query("SELECT outcome FROM runs WHERE id = 1") == std::vector<std::string>{"interrupted"});
  // Compiled code is stopped when it next returns to the interpreter, or else the run
  // ends from the watchdog ("busy in compiled Lua code"): the journal says the same.
}

TEST_CASE("a Ctrl-C and a SIGTERM that come as the run's first hook starts, busy in Lua, stop the run",
          "[e2e][timeout][interrupt]") {
  // The hook signals its own process and loops at once: the loop's own handlers never
  // run again, and the signals must be counted all the same.
  bool jit = GENERATE(false, true);
  CAPTURE(jit);
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + "local JIT = " + (jit ? "true" : "false") + R"(
local ffi = require "ffi"
ffi.cdef "int kill(int pid, int sig); int getpid(void);"
local W = ochre.component "W" {
  create = function(self)
    if exists("ok") then return end
    if not JIT then jit.off() end
    ffi.C.kill(ffi.C.getpid(), 2)
    ffi.C.kill(ffi.C.getpid(), 15)
    local x = 0
    while true do x = x + 1 end
  end,
}
return { W "busy" {} }
)");
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    auto p = dir.start({"run", "pipeline.lua"});
    bool ended = e2e::wait_until([&] { return !p->running(); }, 20);
    if (!ended) p->signal(SIGKILL);
    REQUIRE(ended);
    auto r = p->wait();
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    CHECK(outcome_of(dir, round + 1, "W/busy") == "interrupted: W/busy: create was interrupted");
  }
  dir.write("ok", "");
  auto r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(outcome_of(dir, 6, "W/busy") == "done: ");
}

TEST_CASE("a lifecycle timeout, of the type or of one instance, stops its hook and wins over "
          "--timeout",
          "[e2e][timeout][lifecycle]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local Slow = ochre.component "Slow" {
  lifecycle = { timeout = 0.5 },
  create = function(self)
    append("ran", self.identifier)
    if not exists("ok") then ochre.sh_ok("exec sleep 300") end
  end,
}
return {
  Slow "by-type" {},
  ochre.lifecycle(Slow "by-instance" {}, { timeout = 0.3 }),
}
)");
  // The run's own default is far longer: each instance's lifecycle decides.
  auto r = dir.ochre({"run", "pipeline.lua", "--timeout", "300"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(outcome_of(dir, 1, "Slow/by-type") == "failed: Slow/by-type: create timed out after 0.5 s");
  CHECK(outcome_of(dir, 1, "Slow/by-instance") == "failed: Slow/by-instance: create timed out after 0.3 s");
  dir.write("ok", "");
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "2 done") == 1);
}
