// The Slurm executor on a real cluster (scripts/with-slurm.sh: SLURM_CONF names it):
// dependencies and outputs between cluster jobs, failure and retry, refused and
// unsubmittable jobs, Ctrl-C twice, --fail-fast, kill -9 and the re-attach (checked
// against the cluster's own record of submissions), and two workspaces of one
// PostgreSQL state sharing the cluster. [slurm]: run as "e2e-slurm: ...".
#include <catch2/catch.hpp>
#include <signal.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>

#include "e2e/harness.hpp"
#include "e2e/scheduler.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

// Every Slurm command of the tests (and ochre) reads the cluster from SLURM_CONF.
std::string slurm_conf() {
  const char* c = std::getenv("SLURM_CONF");
  REQUIRE(c);  // run under scripts/with-slurm.sh
  return c;
}

std::map<std::string, std::string> env(const TempDir& dir, std::map<std::string, std::string> more = {}) {
  auto e = dir.state_env();
  e["OCHRE_SLURM_POLL"] = "0.2";
  for (auto& [k, v] : more) e[k] = v;
  return e;
}

// Output of a shell command.
std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// How many jobs named `name` the cluster has had (within MinJobAge: the tests' span).
int submissions(const std::string& name) {
  slurm_conf();
  std::string out = shell("squeue -h -t all -n '" + name + "' -o %i");
  return count(out, "\n");
}

// The states of the jobs named `name`, as squeue shows them.
std::string states(const std::string& name) { return shell("squeue -h -t all -n '" + name + "' -o %T"); }

// A unique prefix for job names: the cluster outlives each test.
std::string unique(const TempDir& dir) {
  std::string u = "t";
  for (char c : dir.path().substr(dir.path().rfind('-') + 1)) u += std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
  return u;
}

std::string pipeline(const TempDir& dir, const std::string& body) {
  return e2e::sched_prelude(dir) + "ochre.settings { executor = \"slurm\" }\n" + body;
}

}  // namespace

TEST_CASE("slurm: cluster jobs run after their dependencies, and a job's output flows to its dependent",
          "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local a = ochre.Command "a" { command = "echo from-a; echo a-err >&2", slurm = { name = "{{U}}-a" } }
local b = ochre.Command "b" { command = "echo got {{inputs.a.outputs.text}}; hostname > " .. path("b-host"),
  inputs = { a = a }, slurm = { name = "{{U}}-b", cpus = 1 } }
return { a, b }
)"), "U", u));
  auto r = dir.ochre({"run", "pipeline.lua"}, env(dir));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "[Command/a] from-a\n") == 1);
  CHECK(count(r.out, "[Command/a] a-err\n") == 1);
  CHECK(count(r.out, "[Command/b] got from-a\n") == 1);
  CHECK(count(r.out, "2 done\n") == 1);
  CHECK(submissions(u + "-a") == 1);
  CHECK(submissions(u + "-b") == 1);
  CHECK(dir.exists("b-host"));
  // Nothing left in flight: the journal of submissions is empty, the job directories gone.
  if (!e2e::postgres_backend()) CHECK(dir.query("SELECT count(*) FROM cluster_jobs") == std::vector<std::string>{"0"});
  CHECK(shell("ls -A '" + dir.file(".ochre/files/.slurm") + "' 2>/dev/null").empty());
  auto again = dir.ochre({"run", "pipeline.lua"}, env(dir));
  CHECK(again.code == 0);
  CHECK(submissions(u + "-a") == 1);
}

TEST_CASE("slurm: a failing cluster job fails its ochre job with its exit code, and the next run retries it",
          "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { create = function(self)
  local r = ochre.sh_ok("test -f " .. path("fixed") .. " || { echo broken >&2; exit 3; }; echo fine",
                        { slurm = { name = "{{U}}" } })
  return { out = r.stdout, job = r.slurm_job }
end }
return T "t" {}
)"), "U", u));
  auto r = dir.ochre({"run", "pipeline.lua"}, env(dir));
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("exited with 3") != std::string::npos);
  CHECK(r.err.find("broken") != std::string::npos);
  dir.write("fixed", "");
  auto again = dir.ochre({"run", "pipeline.lua"}, env(dir));
  INFO(again.out << again.err);
  CHECK(again.code == 0);
  CHECK(count(again.out, "[T/t] fine\n") == 1);
  CHECK(submissions(u) == 2);
}

TEST_CASE("slurm: a refused submission and a missing sbatch fail the job with a clear message, without hanging",
          "[e2e][slurm]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline(dir, R"(
local T = ochre.component "T" { create = function(self) ochre.sh_ok("true", { slurm = { partition = "nope" } }) end }
return T "t" {}
)"));
  auto r = dir.ochre({"run", "pipeline.lua"}, env(dir));
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("cannot submit to Slurm: sbatch: error: ") != std::string::npos);
  CHECK(r.err.find("Batch job submission failed: Invalid partition name specified") != std::string::npos);

  dir.write("empty/.keep", "");
  auto none = dir.ochre({"run", "pipeline.lua"}, env(dir, {{"PATH", dir.file("empty")}}));
  INFO(none.out << none.err);
  CHECK(none.code == 1);
  CHECK(none.err.find("cannot submit to Slurm: sbatch is not on PATH") != std::string::npos);

  // --executor local wins over the pipeline's setting: no cluster needed.
  auto local = dir.ochre({"run", "pipeline.lua", "--executor", "local"}, env(dir, {{"PATH", dir.file("empty")}}));
  INFO(local.out << local.err);
  CHECK(local.code == 0);
  auto bad = dir.ochre({"run", "pipeline.lua", "--executor", "k8s"}, env(dir));
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--executor takes local or slurm (got 'k8s')") != std::string::npos);
}

TEST_CASE("slurm: a controller that does not answer fails the job with the scheduler's message",
          "[e2e][slurm]") {
  TempDir dir;
  std::string conf = slurm_conf();
  std::string text = shell("sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' '" + conf + "'");
  dir.write("dead.conf", text);
  dir.write("pipeline.lua", pipeline(dir, R"(
local T = ochre.component "T" { create = function(self) ochre.sh_ok("true") end }
return T "t" {}
)"));
  auto r = dir.ochre({"run", "pipeline.lua"}, env(dir, {{"SLURM_CONF", dir.file("dead.conf")}}));
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("Unable to contact slurm controller") != std::string::npos);
}

TEST_CASE("slurm: Ctrl-C twice cancels the run's cluster jobs and records them as interrupted",
          "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { create = function(self)
  ochre.sh_ok("touch " .. path("started-" .. self.identifier) .. "; sleep 300", { slurm = { name = "{{U}}" } })
end }
return { T "a" {}, T "b" {} }
)"), "U", u));
  auto p = dir.start({"run", "pipeline.lua", "-j", "2"}, env(dir));
  REQUIRE(dir.wait_for_file("started-a", 60));
  REQUIRE(dir.wait_for_file("started-b", 60));
  REQUIRE(p->signal_group(SIGINT));
  REQUIRE(e2e::wait_until([&] { return p->err_so_far().find("Interrupted: ") != std::string::npos; }));
  REQUIRE(p->signal_group(SIGINT));
  auto r = p->wait();
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(count(r.out, "2 interrupted") == 1);
  CHECK(e2e::wait_until([&] { return count(states(u), "CANCELLED") == 2; }));
  auto jobs = e2e::jobs_of_run(dir, 1);
  CHECK(jobs["T/a"].outcome == "interrupted");
  CHECK(jobs["T/b"].outcome == "interrupted");
}

TEST_CASE("slurm: --fail-fast cancels the cluster jobs still running after a failure", "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { fields = { cmd = "" }, create = function(self)
  ochre.sh_ok(self.cmd, { slurm = { name = "{{U}}-" .. self.identifier } })
end }
return { T "long" { cmd = "touch " .. path("long") .. "; sleep 300" },
         T "bad" { cmd = "while [ ! -f " .. path("long") .. " ]; do sleep 0.1; done; exit 5" } }
)"), "U", u));
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "2", "--fail-fast"}, env(dir));
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("exited with 5") != std::string::npos);
  CHECK(e2e::wait_until([&] { return count(states(u + "-long"), "CANCELLED") == 1; }));
  auto jobs = e2e::jobs_of_run(dir, 1);
  CHECK(jobs["T/bad"].outcome == "failed");
  CHECK(jobs["T/long"].outcome == "interrupted");
}

TEST_CASE("slurm: after kill -9 of ochre the next run re-attaches to its jobs and submits nothing twice",
          "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  // quick: ends while ochre is dead (once the test says); slow: still running when ochre comes back; lost: the
  // cluster cancels it while ochre is dead, so it must be submitted again.
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { fields = { cmd = "" }, create = function(self)
  local r = ochre.sh_ok(self.cmd, { slurm = { name = "{{U}}-" .. self.identifier } })
  return { out = r.stdout }
end }
return { T "quick" { cmd = "touch " .. path("s-quick") .. "; while [ ! -f " .. path("quick-go") .. " ]; do sleep 0.1; done; echo quick-done" },
         T "slow" { cmd = "touch " .. path("s-slow") .. "; while [ ! -f " .. path("go") .. " ]; do sleep 0.1; done; echo slow-done" },
         T "lost" { cmd = "test -f " .. path("s-lost") .. " && echo lost-again || { touch " .. path("s-lost") ..
                          "; sleep 300; }" } }
)"), "U", u));
  auto p = dir.start({"run", "pipeline.lua", "-j", "3"}, env(dir));
  for (const char* f : {"s-quick", "s-slow", "s-lost"}) REQUIRE(dir.wait_for_file(f, 60));
  REQUIRE(p->signal(SIGKILL));
  p->wait();
  dir.write("quick-go", "");
  REQUIRE(e2e::wait_until([&] { return states(u + "-quick").find("COMPLETED") != std::string::npos; }, 60));
  CHECK(states(u + "-slow").find("RUNNING") != std::string::npos);
  shell("scancel -n '" + u + "-lost'");
  REQUIRE(e2e::wait_until([&] { return states(u + "-lost").find("CANCELLED") != std::string::npos; }, 60));

  auto rerun = dir.start({"run", "pipeline.lua", "-j", "3"}, env(dir));
  bool resubmitted = e2e::wait_until([&] { return submissions(u + "-lost") == 2; }, 60);
  INFO(rerun->out_so_far() << rerun->err_so_far() << shell("squeue -h -t all -o '%i %j %T %k'"));
  REQUIRE(resubmitted);
  dir.write("go", "");
  auto r = rerun->wait();
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "[T/quick] quick-done\n") == 1);
  CHECK(count(r.out, "[T/slow] slow-done\n") == 1);
  CHECK(count(r.out, "[T/lost] lost-again\n") == 1);
  // The cluster's own record: one submission each, two for the one it lost.
  CHECK(submissions(u + "-quick") == 1);
  CHECK(submissions(u + "-slow") == 1);
  CHECK(submissions(u + "-lost") == 2);
}

TEST_CASE("slurm: two ochre processes on two workspaces of one PostgreSQL state share the cluster",
          "[e2e][slurm]") {
  const char* pg = std::getenv("OCHRE_TEST_PG");
  REQUIRE(pg);  // run under scripts/with-postgres.sh too
  TempDir dir;
  std::string u = unique(dir);
  std::string url = std::string(pg) + (std::string(pg).find('?') == std::string::npos ? "?" : "&") + "schema=" + u;
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { create = function(self)
  local ws = os.getenv("WS")
  local r = ochre.sh_ok("touch " .. path("s-" .. ws .. "-" .. self.identifier) .. "; while [ ! -f " .. path("go") ..
                        " ]; do sleep 0.1; done; echo " .. ws, { slurm = { name = "{{U}}-" .. ws } })
  return { out = r.stdout }
end }
return { T "a" {}, T "b" {} }
)"), "U", u));
  std::map<std::string, std::string> e = {{"OCHRE_STATE", url}, {"OCHRE_SLURM_POLL", "0.2"}};
  auto e1 = e, e2 = e;
  e1["WS"] = "one";
  e2["WS"] = "two";
  auto p1 = dir.start({"run", "pipeline.lua", "--workspace", "one"}, e1);
  auto p2 = dir.start({"run", "pipeline.lua", "--workspace", "two"}, e2);
  for (const char* f : {"s-one-a", "s-one-b", "s-two-a", "s-two-b"}) REQUIRE(dir.wait_for_file(f, 60));
  dir.write("go", "");
  auto r1 = p1->wait();
  auto r2 = p2->wait();
  INFO(r1.out << r1.err << r2.out << r2.err);
  CHECK(r1.code == 0);
  CHECK(r2.code == 0);
  CHECK(count(r1.out, "] one\n") == 2);
  CHECK(count(r2.out, "] two\n") == 2);
  CHECK(submissions(u + "-one") == 2);
  CHECK(submissions(u + "-two") == 2);
}

TEST_CASE("slurm: a command's timeout cancels its cluster job and answers as a local one does (code 124)",
          "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { create = function(self)
  local r = ochre.sh("touch " .. path("started") .. "; sleep 300", { timeout = 1, slurm = { name = "{{U}}" } })
  append("result", tostring(r.code) .. " " .. tostring(r.timed_out))
end }
return T "t" {}
)"), "U", u));
  auto r = dir.ochre({"run", "pipeline.lua"}, env(dir));
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.lines("result") == std::vector<std::string>{"124 true"});
  CHECK(e2e::wait_until([&] { return count(states(u), "CANCELLED") == 1; }));
}

TEST_CASE("slurm: a hook's timeout (--timeout and lifecycle.timeout) cancels its cluster job and fails the job",
          "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local function waits(self)
  ochre.sh_ok("touch " .. path("started-" .. self.identifier) .. "; sleep 300", { slurm = { name = "{{U}}-" .. self.identifier } })
end
local T = ochre.component "T" { create = waits }
local L = ochre.component "L" { lifecycle = { timeout = 1 }, create = waits }
local After = ochre.component "After" { fields = { dep = false }, create = function(self) append("after", "ran") end }
local t = T "cli" {}
return { t, L "life" {}, After "after" { dep = t } }
)"), "U", u));
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "4", "--timeout", "2"}, env(dir));
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(count(r.err, "T/cli: create timed out after 2 s") == 1);
  CHECK(count(r.err, "L/life: create timed out after 1 s") == 1);
  CHECK(dir.lines("after").empty());  // its dependency failed: skipped
  // The cluster's record: each job was cancelled, not left running.
  CHECK(e2e::wait_until([&] { return count(states(u + "-cli"), "CANCELLED") == 1; }));
  CHECK(e2e::wait_until([&] { return count(states(u + "-life"), "CANCELLED") == 1; }));
  auto jobs = e2e::jobs_of_run(dir, 1);
  CHECK(jobs["T/cli"].outcome == "failed");
  CHECK(jobs["L/life"].outcome == "failed");
  CHECK(jobs["After/after"].outcome == "skipped");
}

TEST_CASE("slurm: a cluster job's output reaches ochre's output while the job runs", "[e2e][slurm]") {
  TempDir dir;
  std::string u = unique(dir);
  dir.write("pipeline.lua", e2e::subst(pipeline(dir, R"(
local T = ochre.component "T" { create = function(self)
  local r = ochre.sh_ok("echo first; echo warn >&2; while [ ! -f " .. path("go") .. " ]; do sleep 0.1; done; echo last",
                        { slurm = { name = "{{U}}" } })
  append("result", (r.stdout:gsub("\n", "|")) .. " " .. (r.stderr:gsub("\n", "|")))
end }
return T "t" {}
)"), "U", u));
  auto p = dir.start({"run", "pipeline.lua"}, env(dir));
  bool live = e2e::wait_until([&] {
    std::string so_far = p->out_so_far();
    return so_far.find("[T/t] first\n") != std::string::npos && so_far.find("[T/t] warn\n") != std::string::npos;
  }, 60);
  CHECK(p->out_so_far().find("last") == std::string::npos);
  dir.write("go", "");
  auto r = p->wait();
  INFO(r.out << r.err);
  REQUIRE(live);
  CHECK(r.code == 0);
  CHECK(count(r.out, "[T/t] first\n") == 1);
  CHECK(count(r.out, "[T/t] warn\n") == 1);
  CHECK(count(r.out, "[T/t] last\n") == 1);
  CHECK(dir.lines("result") == std::vector<std::string>{"first|last| warn|"});
}
