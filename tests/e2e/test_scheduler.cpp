// The parallel scheduler end to end: -j N overlaps independent jobs and -j 1 does not,
// dependencies hold under -j, a failure skips only its dependents (and --fail-fast stops
// new starts), pending jobs advance over runs, and ochre.sh with its options. Timing is
// read from the journal (ISO-8601 ms timestamps), never from the wall clock.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"
#include "e2e/scheduler.hpp"

using e2e::count;
using e2e::jobs_of_run;
using e2e::journal_text;
using e2e::no_changes;
using e2e::sched_prelude;
using e2e::subst;
using e2e::TempDir;
using Rows = std::vector<std::string>;

TEST_CASE("parallel: -j 8 runs 8 independent jobs at once: every one starts before any ends",
          "[e2e][scheduler][parallel]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local P = ochre.component "P" {
  fields = { n = 0 },
  create = function(self) ochre.sh("sleep 0.3") end,
}
local all = {}
for i = 1, 8 do all[#all + 1] = P("p" .. i) { n = i } end
return all
)");
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "8"});
  INFO(r.out << r.err << journal_text(dir, 1));
  REQUIRE(r.code == 0);
  CHECK(e2e::count(r.out, "8 done\n") == 1);
  auto jobs = jobs_of_run(dir, 1);
  REQUIRE(jobs.size() == 8);
  std::string last_start, first_end = "~";
  for (const auto& [key, j] : jobs) {
    CHECK(j.outcome == "done");
    last_start = std::max(last_start, j.started);
    first_end = std::min(first_end, j.ended);
  }
  CHECK(last_start < first_end);
}

TEST_CASE("parallel: without -j at least 4 jobs run at once", "[e2e][scheduler][parallel]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local P = ochre.component "P" {
  fields = { n = 0 },
  create = function(self) ochre.sleep(0.3) end,
}
return { P "p1" {}, P "p2" {}, P "p3" {}, P "p4" {} }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err << journal_text(dir, 1));
  REQUIRE(r.code == 0);
  CHECK(dir.query("SELECT max(started) < min(ended), count(*) FROM jobs WHERE run = 1 AND outcome = 'done'") ==
        Rows{"1|4"});
}

TEST_CASE("parallel: -j 1 runs jobs strictly one after another, however the option is spelled",
          "[e2e][scheduler][parallel]") {
  auto args = GENERATE(Rows{"-j", "1"}, Rows{"-j1"}, Rows{"--jobs", "1"}, Rows{"--jobs=1"});
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local P = ochre.component "P" {
  fields = { n = 0 },
  create = function(self) ochre.sh("sleep 0.05") end,
}
local all = {}
for i = 1, 4 do all[#all + 1] = P("p" .. i) { n = i } end
return all
)");
  Rows cmd{"run", "pipeline.lua"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  auto r = dir.ochre(cmd);
  INFO(args[0] << " " << (args.size() > 1 ? args[1] : "") << "\n" << r.out << r.err << journal_text(dir, 1));
  REQUIRE(r.code == 0);
  auto rows = dir.query("SELECT started, ended, outcome FROM jobs WHERE run = 1 ORDER BY started, id");
  REQUIRE(rows.size() == 4);
  std::string prev_end;
  for (const auto& row : rows) {
    auto f = e2e::split(row, '|');
    CHECK(f[2] == "done");
    CHECK(f[0] >= prev_end);
    CHECK(f[1] >= f[0]);
    prev_end = f[1];
  }
}

TEST_CASE("parallel: -j 0 and a non-number are usage errors", "[e2e][scheduler][parallel]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(return ochre.Component "c" {})");
  for (const auto& arg : {"-j0", "--jobs=x"}) {
    auto r = dir.ochre({"run", "pipeline.lua", arg});
    INFO(arg << "\n" << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK_FALSE(dir.has_state());
  }
}

TEST_CASE("dependencies: under -j 8 a job starts only after all its dependencies ended: a chain and a diamond",
          "[e2e][scheduler][deps]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local S = ochre.component "S" {
  fields = { a = false, b = false },
  create = function(self)
    ochre.sleep(0.1)
    return { id = self.identifier }
  end,
  delete = function(self) ochre.sleep(0.1) end,
}
local c1 = S "c1" {}
local c2 = S "c2" { a = c1 }
local c3 = S "c3" { a = c2 }
local c4 = S "c4" { a = c3 }
local bottom = S "bottom" {}
local top = S "top" { a = S "left" { a = bottom }, b = S "right" { a = bottom } }
return { c4, top }
)");
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "8"});
  INFO(r.out << r.err << journal_text(dir, 1));
  REQUIRE(r.code == 0);
  auto jobs = jobs_of_run(dir, 1);
  REQUIRE(jobs.size() == 8);
  for (const auto& [key, j] : jobs) CHECK(j.outcome == "done");
  const std::vector<std::pair<std::string, std::string>> edges = {
      {"S/c2", "S/c1"},       {"S/c3", "S/c2"},     {"S/c4", "S/c3"},  {"S/left", "S/bottom"},
      {"S/right", "S/bottom"}, {"S/top", "S/left"}, {"S/top", "S/right"}};
  for (const auto& [user, dep] : edges) {
    INFO(user << " uses " << dep);
    CHECK(jobs[user].started >= jobs[dep].ended);
  }
  // What may overlap did: the diamond's two sides, and the chain with the diamond.
  CHECK(jobs["S/left"].started < jobs["S/right"].ended);
  CHECK(jobs["S/right"].started < jobs["S/left"].ended);
  CHECK(jobs["S/c1"].started < jobs["S/bottom"].ended);
  CHECK(jobs["S/bottom"].started < jobs["S/c1"].ended);

  // destroy goes the other way: a component is deleted only after all its users were.
  r = dir.ochre({"destroy", "pipeline.lua", "-j", "8"});
  INFO(r.out << r.err << journal_text(dir, 2));
  REQUIRE(r.code == 0);
  jobs = jobs_of_run(dir, 2);
  REQUIRE(jobs.size() == 8);
  for (const auto& [key, j] : jobs) CHECK(j.outcome == "done");
  for (const auto& [user, dep] : edges) {
    INFO(dep << " is used by " << user);
    CHECK(jobs[dep].started >= jobs[user].ended);
  }
  CHECK(jobs["S/left"].started < jobs["S/right"].ended);
  CHECK(jobs["S/right"].started < jobs["S/left"].ended);
  CHECK(dir.query("SELECT count(*) FROM instances") == Rows{"0"});
}

namespace {

// bad fails (after leaving a marker); d1 <- d2 depend on it. slow and gate are independent
// and still running when bad fails; q1..q3 wait for gate, so they are ready only after the
// failure.
std::string failing_pipeline(const TempDir& dir) {
  return sched_prelude(dir) + R"(
local Bad = ochre.component "Bad" {
  create = function(self)
    touch("bad-started")
    error("boom")  -- BAD FAILS
  end,
}
local Slow = ochre.component "Slow" {
  create = function(self)
    ochre.wait_file(path("bad-started"))
    ochre.sleep(0.2)
    append("ran", tostring(self))
  end,
}
local Step = ochre.component "Step" {
  fields = { after = false },
  create = function(self) append("ran", tostring(self)) end,
}
local bad = Bad "bad" {}
local gate = Slow "gate" {}
return {
  Step "d2" { after = Step "d1" { after = bad } },
  Slow "slow" {},
  Step "q1" { after = gate }, Step "q2" { after = gate }, Step "q3" { after = gate },
}
)";
}

}  // namespace

TEST_CASE("a failed job skips its dependents while an independent slow job completes",
          "[e2e][scheduler][failures]") {
  TempDir dir;
  std::string text = failing_pipeline(dir);
  dir.write("pipeline.lua", text);
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "8"});
  INFO(r.out << r.err << journal_text(dir, 1));
  CHECK(r.code == 1);
  std::string line = e2e::first_line(r.err);
  CHECK(line.rfind("error: Bad/bad: create failed: pipeline.lua:" +
                   std::to_string(e2e::line_of(text, "-- BAD FAILS")) + ": boom", 0) == 0);
  CHECK(r.err.find("stack traceback") != std::string::npos);
  CHECK(count(r.err, "skipped: Step/d1/") == 1);
  CHECK(count(r.err, "skipped: Step/d2/") == 1);
  CHECK(count(r.out, "5 done, 1 failed, 2 skipped\n") == 1);

  auto jobs = jobs_of_run(dir, 1);
  REQUIRE(jobs.size() == 8);
  CHECK(jobs["Bad/bad"].outcome == "failed");
  CHECK(jobs["Step/d1"].outcome == "skipped");
  CHECK(jobs["Step/d2"].outcome == "skipped");
  for (const char* k : {"Slow/slow", "Slow/gate", "Step/q1", "Step/q2", "Step/q3"}) {
    INFO(k);
    CHECK(jobs[k].outcome == "done");
  }
  // slow was already running when bad failed, and it went on to finish.
  CHECK(jobs["Slow/slow"].started <= jobs["Bad/bad"].ended);
  CHECK(jobs["Slow/slow"].ended >= jobs["Bad/bad"].ended);
  // q1..q3 started after the failure: it did not stop the run.
  for (const char* k : {"Step/q1", "Step/q2", "Step/q3"}) CHECK(jobs[k].started >= jobs["Bad/bad"].ended);
  auto ran = dir.lines("ran");
  std::sort(ran.begin(), ran.end());
  CHECK(ran == Rows{"Slow/gate", "Slow/slow", "Step/q1", "Step/q2", "Step/q3"});
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") ==
        Rows{"Bad/bad|failed", "Slow/gate|ok", "Slow/slow|ok", "Step/q1|ok", "Step/q2|ok", "Step/q3|ok"});
}

TEST_CASE("failures with --fail-fast: after a failure no new job starts, the running ones finish",
          "[e2e][scheduler][failures]") {
  TempDir dir;
  dir.write("pipeline.lua", failing_pipeline(dir));
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "8", "--fail-fast"});
  INFO(r.out << r.err << journal_text(dir, 1));
  CHECK(r.code == 1);
  CHECK(e2e::first_line(r.err).rfind("error: Bad/bad: create failed: ", 0) == 0);
  CHECK(count(r.out, "2 done, 1 failed, 5 skipped\n") == 1);
  auto jobs = jobs_of_run(dir, 1);
  REQUIRE(jobs.size() == 8);
  CHECK(jobs["Bad/bad"].outcome == "failed");
  CHECK(jobs["Slow/slow"].outcome == "done");
  CHECK(jobs["Slow/gate"].outcome == "done");
  for (const char* k : {"Step/d1", "Step/d2", "Step/q1", "Step/q2", "Step/q3"}) {
    INFO(k);
    CHECK(jobs[k].outcome == "skipped");
    CHECK(jobs[k].started.empty());
  }
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE run = 1 AND key LIKE 'Step/q%' AND "
                  "error = 'not started: the run was stopped'") == Rows{"3"});
  auto ran = dir.lines("ran");
  std::sort(ran.begin(), ran.end());
  CHECK(ran == Rows{"Slow/gate", "Slow/slow"});
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") ==
        Rows{"Bad/bad|failed", "Slow/gate|ok", "Slow/slow|ok"});

  // Without --fail-fast the next run does what was left (bad still fails).
  r = dir.ochre({"run", "pipeline.lua", "-j", "8"});
  CHECK(r.code == 1);
  CHECK(count(r.out, "3 done, 1 failed, 2 skipped\n") == 1);
  CHECK(dir.query("SELECT count(*) FROM instances WHERE status = 'ok'") == Rows{"5"});
}

TEST_CASE("a pending job advances over several runs as the world catches up",
          "[e2e][scheduler][pending]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local P = ochre.component "P" {
  fields = { needs = false, after = false },
  create = function(self)
    append("ran", tostring(self))
    if self.needs and not exists(self.needs) then
      return ochre.pending("waiting for " .. self.needs)
    end
    if self.after then print("after " .. tostring(self.after.outputs.got)) end
    return { got = self.identifier }
  end,
}
local a = P "a" { needs = "a.ready" }
local b = P "b" { needs = "b.ready", after = a }
local c = P "c" { after = b }
return { c, P "x" {} }
)");
  auto plan = e2e::plan_rows(dir.ochre({"plan", "pipeline.lua"}).out);
  auto uuid = [&](const std::string& key) {
    auto row = e2e::find_row(plan, key, "create");
    return row ? row->uuid : std::string("?");
  };
  std::string ua = uuid("P/a"), ub = uuid("P/b"), uc = uuid("P/c");

  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "pending: P/a/" + ua + ".create (waiting for a.ready)\n") == 1);
  CHECK(count(r.out, "waiting: P/b/" + ub + ".create") == 1);
  CHECK(count(r.out, "waiting: P/c/" + uc + ".create") == 1);
  CHECK(count(r.out, "1 done, 1 pending, 2 waiting\n") == 1);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"P/a|pending", "P/x|ok"});
  CHECK(dir.query("SELECT outcome FROM runs WHERE id = 1") == Rows{"pending"});

  // Nothing changed in the world: asked again, still pending.
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "note: P/a/" + ua + ".create: pending: waiting for a.ready\n") == 1);
  CHECK(count(r.out, "0 done, 1 pending, 2 waiting\n") == 1);

  dir.write("a.ready", "");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "note: P/a/" + ua + ".create: pending: waiting for a.ready\n") == 1);
  CHECK(count(r.out, "pending: P/b/" + ub + ".create (waiting for b.ready)\n") == 1);
  CHECK(count(r.out, "waiting: P/c/" + uc + ".create") == 1);
  CHECK(count(r.out, "1 done, 1 pending, 1 waiting\n") == 1);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") ==
        Rows{"P/a|ok", "P/b|pending", "P/x|ok"});

  dir.write("b.ready", "");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "[P/c] after b\n") == 1);
  CHECK(count(r.out, "2 done\n") == 1);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") ==
        Rows{"P/a|ok", "P/b|ok", "P/c|ok", "P/x|ok"});
  CHECK(dir.lines("ran") == Rows{"P/a", "P/x", "P/a", "P/a", "P/b", "P/b", "P/c"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("ochre.sh: env, cwd, stdin, timeout, exit codes as data, quiet, captured output",
          "[e2e][scheduler][sh]") {
  TempDir dir;
  dir.write("sub/marker", "");
  std::string text = sched_prelude(dir) + R"(
local function show(name, r)
  append("results", ("%s code=%s timed_out=%s signal=%s stdout=[%s] stderr=[%s]"):format(
    name, tostring(r.code), tostring(r.timed_out), tostring(r.signal),
    r.stdout:gsub("\n", "\\n"), r.stderr:gsub("\n", "\\n")))
end
local Sh = ochre.component "Sh" {
  create = function(self)
    print("hook says hi")
    show("plain", ochre.sh([[echo "$OCHRE_E2E_A|${OCHRE_E2E_B-unset}"]]))
    show("env", ochre.sh([[echo "$OCHRE_E2E_A|${OCHRE_E2E_B-unset}|$N"]],
                         { env = { OCHRE_E2E_A = "over", OCHRE_E2E_B = false, N = 42 } }))
    show("cwd", ochre.sh("pwd -P; ls", { cwd = path("sub") }))
    show("stdin", ochre.sh("tr a-z A-Z", { stdin = "hello\nworld\n" }))
    show("no-stdin", ochre.sh("cat"))
    show("code", ochre.sh("echo out; echo err >&2; exit 7"))
    show("signal", ochre.sh("kill -TERM $$"))
    show("timeout", ochre.sh("sleep 5 & echo $! > " .. path("timeout.pid") .. "; wait; echo never",
                             { timeout = 0.2 }))
    show("quiet", ochre.sh("echo hush; echo hush-err >&2", { quiet = true }))
    local ok = ochre.sh_ok("echo fine")
    show("sh_ok", ok)
    print("hook says bye")
  end,
}
local Fail = ochre.component "Fail" {
  create = function(self)
    ochre.sh_ok("echo why >&2; exit 5")  -- SH_OK RAISES
    append("results", "after sh_ok")
  end,
}
return { Sh "opts" {}, Fail "fail" {} }
)";
  dir.write("pipeline.lua", text);
  auto r = dir.ochre({"run", "pipeline.lua"}, {{"OCHRE_E2E_A", "orig"}, {"OCHRE_E2E_B", "present"}});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  std::string sub = std::filesystem::canonical(dir.file("sub")).string();
  CHECK(dir.lines("results") ==
        Rows{"plain code=0 timed_out=false signal=nil stdout=[orig|present\\n] stderr=[]",
             "env code=0 timed_out=false signal=nil stdout=[over|unset|42\\n] stderr=[]",
             "cwd code=0 timed_out=false signal=nil stdout=[" + sub + "\\nmarker\\n] stderr=[]",
             "stdin code=0 timed_out=false signal=nil stdout=[HELLO\\nWORLD\\n] stderr=[]",
             "no-stdin code=0 timed_out=false signal=nil stdout=[] stderr=[]",
             "code code=7 timed_out=false signal=nil stdout=[out\\n] stderr=[err\\n]",
             "signal code=nil timed_out=false signal=15 stdout=[] stderr=[]",
             "timeout code=124 timed_out=true signal=9 stdout=[] stderr=[]",
             "quiet code=0 timed_out=false signal=nil stdout=[hush\\n] stderr=[hush-err\\n]",
             "sh_ok code=0 timed_out=false signal=nil stdout=[fine\\n] stderr=[]"});
  // The timeout killed the command's whole group, its background sleep too.
  REQUIRE(dir.exists("timeout.pid"));
  pid_t sleeper = std::stoi(dir.read("timeout.pid"));
  CHECK(e2e::wait_until([&] { return e2e::process_gone(sleeper); }, 10));

  // What the hook and its commands printed: on stdout with the job's prefix, in the
  // journal without it; quiet commands in neither.
  const std::string shown = "hook says hi\norig|present\nover|unset|42\n" + sub +
                            "\nmarker\nHELLO\nWORLD\nout\nerr\nfine\nhook says bye\n";
  CHECK(dir.query("SELECT output FROM jobs WHERE key = 'Sh/opts'") == Rows{shown});
  for (const auto& line : e2e::split(shown.substr(0, shown.size() - 1), '\n')) {
    INFO(line);
    CHECK(count(r.out, "[Sh/opts] " + line + "\n") == 1);
  }
  CHECK(r.out.find("hush") == std::string::npos);
  CHECK(r.err.find("hush") == std::string::npos);
  CHECK(r.out.find("never") == std::string::npos);

  // sh_ok raises at the hook's line with the command and its stderr.
  CHECK(e2e::first_line(r.err) == "error: Fail/fail: create failed: pipeline.lua:" +
                                      std::to_string(e2e::line_of(text, "-- SH_OK RAISES")) +
                                      ": command exited with 5: echo why >&2; exit 5");
  CHECK(r.err.find("\nwhy\n") != std::string::npos);
  CHECK(count(r.out, "[Fail/fail] why\n") == 1);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"Fail/fail|failed", "Sh/opts|ok"});
  CHECK(count(r.out, "1 done, 1 failed\n") == 1);
}

TEST_CASE("jobs running at once keep their lines whole and their own output apart",
          "[e2e][scheduler][output]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local Talk = ochre.component "Talk" {
  create = function(self)
    for i = 1, 3 do
      print(self.identifier .. " print " .. i)
      ochre.sh("printf '" .. self.identifier .. " sh " .. i .. "\\n'; sleep 0.02")
    end
    ochre.sh("printf 'no newline at the end'")
  end,
}
return { Talk "a" {}, Talk "b" {}, Talk "c" {} }
)");
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "3"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  for (std::string id : {"a", "b", "c"}) {
    INFO(id);
    std::string expect;
    for (int i = 1; i <= 3; ++i) {
      std::string p = id + " print " + std::to_string(i), s = id + " sh " + std::to_string(i);
      expect += p + "\n" + s + "\n";
      CHECK(count(r.out, "[Talk/" + id + "] " + p + "\n") == 1);
      CHECK(count(r.out, "[Talk/" + id + "] " + s + "\n") == 1);
    }
    CHECK(count(r.out, "[Talk/" + id + "] no newline at the end\n") == 1);
    CHECK(dir.query("SELECT output FROM jobs WHERE key = 'Talk/" + id + "'") ==
          Rows{expect + "no newline at the end"});
  }
  // Every line on stdout is a whole line: the plan (its table, what it changes, its
  // counts), a job's line or the summary.
  for (const auto& line : e2e::split(r.out, '\n')) {
    if (line.empty()) continue;
    INFO(line);
    CHECK((line.rfind("| ", 0) == 0 || line.rfind("[Talk/", 0) == 0 || line == "3 done" ||
           line.rfind("+ Talk/", 0) == 0 || line.rfind("Plan: ", 0) == 0));
  }
  // They did run at once.
  auto jobs = jobs_of_run(dir, 1);
  std::string last_start, first_end = "~";
  for (const auto& [k, j] : jobs) {
    last_start = std::max(last_start, j.started);
    first_end = std::min(first_end, j.ended);
  }
  CHECK(last_start < first_end);
}

TEST_CASE("ochre.wait_file and ochre.wait_pid see the event or time out", "[e2e][scheduler][waits]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local W = ochre.component "W" {
  create = function(self)
    append("results", "file missing: " .. tostring(ochre.wait_file(path("never"), { timeout = 0.2 })))
    ochre.sh("(sleep 0.2; touch " .. path("later") .. ") >/dev/null 2>&1 &")
    append("results", "file appears: " .. tostring(ochre.wait_file(path("later"), { timeout = 30 })))
    local pid = tonumber(ochre.sh("sleep 0.2 >/dev/null 2>&1 & echo $!").stdout)
    append("results", "pid ends: " .. tostring(ochre.wait_pid(pid, { timeout = 30 })))
    append("results", "pid lives: " .. tostring(ochre.wait_pid(1, { timeout = 0.2 })))
  end,
}
return W "w" {}
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.lines("results") ==
        Rows{"file missing: false", "file appears: true", "pid ends: true", "pid lives: false"});
}

TEST_CASE("ochre.sh returns all of a command's output: quick, long, more than a pipe holds, or held by a process it left",
          "[e2e][scheduler][sh]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local function shown(s) return (s:gsub("\n", "|")) end
local C = ochre.component "C" {
  fields = { n = 0 },
  create = function(self)
    local n, r = self.n, nil
    if n == 1 then
      r = ochre.sh("printf 'a\\nb'; printf e >&2")
      append("results", "quick: " .. shown(r.stdout) .. " / " .. r.stderr)
    elseif n == 2 then
      r = ochre.sh("head -c 300000 /dev/zero | tr '\\0' z; echo done >&2")
      append("results", "big: " .. #r.stdout .. " " .. tostring(r.stdout:find("^z+$") ~= nil) .. " / " .. shown(r.stderr))
    elseif n == 3 then
      r = ochre.sh("echo one; sleep 0.2; echo two >&2; echo three")
      append("results", "long: " .. shown(r.stdout) .. " / " .. shown(r.stderr))
    elseif n == 4 then
      r = ochre.sh("echo first; (sleep 0.3; echo late; echo late2 >&2) &")
      append("results", "left: " .. shown(r.stdout) .. " / " .. shown(r.stderr))
    else
      r = ochre.sh("echo " .. n .. "; echo " .. -n .. " >&2; exit " .. n % 7)
      if r.stdout ~= n .. "\n" or r.stderr ~= -n .. "\n" or r.code ~= n % 7 then
        append("results", "mixed up: " .. n .. " " .. shown(r.stdout) .. " " .. shown(r.stderr) .. " " .. r.code)
      end
    end
  end,
}
local all = {}
for n = 1, 104 do all[n] = C("c" .. n) { n = n } end
return all
)");
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "16"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  auto rows = dir.lines("results");
  std::sort(rows.begin(), rows.end());
  CHECK(rows == Rows{"big: 300000 true / done|", "left: first|late| / late2|", "long: one|three| / two|",
                     "quick: a|b / e"});
}

TEST_CASE("colour: no escape codes with NO_COLOR or into a pipe unless --color always, bad values are usage errors",
          "[e2e][scheduler][color]") {
  TempDir dir;
  dir.write("pipeline.lua", sched_prelude(dir) + R"(
local Bad = ochre.component "Bad" { create = function(self) error("boom") end }
return { Bad "bad" {}, ochre.Component "c" {} }
)");
  for (const auto& when : {"auto", "always", "never"}) {
    INFO(when);
    auto r = dir.ochre({"run", "pipeline.lua", "--color", when});
    CHECK(r.code == 1);
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK(e2e::first_line(r.err).rfind("error: Bad/bad: create failed: ", 0) == 0);
  }
  // Without NO_COLOR, --color always colours even into a pipe; never and auto do not.
  auto r = dir.ochre({"run", "pipeline.lua", "--color=always"}, {{"NO_COLOR", ""}});
  CHECK(r.code == 1);
  CHECK(r.err.find('\x1b') != std::string::npos);
  r = dir.ochre({"run", "pipeline.lua", "--color=never"}, {{"NO_COLOR", ""}});
  CHECK(r.err.find('\x1b') == std::string::npos);
  r = dir.ochre({"run", "pipeline.lua", "--color", "sometimes"});
  CHECK(r.code == 2);
}

TEST_CASE("ochre.sh with check = true raises at the hook's line", "[e2e][scheduler][sh]") {
  TempDir dir;
  std::string text = R"(local ochre = require "ochre"
local C = ochre.component "C" {
  create = function(self)
    local r = ochre.sh("exit 3")
    print("data " .. r.code)
    ochre.sh("echo because >&2; exit 6", { check = true })  -- RAISES
    print("not reached")
  end,
}
return C "c" {}
)";
  dir.write("pipeline.lua", text);
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(count(r.out, "[C/c] data 3\n") == 1);
  CHECK(r.out.find("not reached") == std::string::npos);
  CHECK(e2e::first_line(r.err) == "error: C/c: create failed: pipeline.lua:" +
                                      std::to_string(e2e::line_of(text, "-- RAISES")) +
                                      ": command exited with 6: echo because >&2; exit 6");
}

TEST_CASE("a chain of 10,000 with Lua hooks: one change updates every link, each update and "
          "delete hook sees the stored version whole",
          "[e2e][scheduler][deep]") {
  TempDir dir;
  // Each hook checks the stored version it gets reaches the chain's first link through
  // its stored sub-components (one in a hundred, to keep it linear).
  auto pipeline = [&](int first) {
    return sched_prelude(dir) + subst(R"(
local function depth(link)
  local n = 0
  while link do n, link = n + 1, link.prev end
  return n
end
local function check(self, old)
  local i = tonumber(self.identifier:sub(2))
  if i % 100 == 0 and depth(old) ~= i then error("stored chain cut short at " .. depth(old)) end
end
local L = ochre.component "L" {
  fields = { prev = false, v = 0 },
  create = function(self) end,
  update = function(self, old) check(self, old) end,
  delete = function(self) check(self, self) end,
}
local prev = false
for i = 1, 10000 do prev = L("l" .. i) { prev = prev, v = i == 1 and {{FIRST}} or 0 } end
return prev
)", "FIRST", std::to_string(first));
  };
  dir.write("pipeline.lua", pipeline(0));
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  dir.write("pipeline.lua", pipeline(1));
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "10000 done\n") == 1);
  r = dir.ochre({"destroy", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "10000 done\n") == 1);
  CHECK(dir.query("SELECT count(*) FROM instances") == Rows{"0"});
}
