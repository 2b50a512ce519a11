// Plans that follow the data: jobs decided after their sub-components' jobs (read and
// hashed again), early cutoff, Command's produces, the files a pipeline reads while it
// loads, and plans that do not depend on Lua's table order.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

const char* const no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// A Source whose read hook records its file's content; a Cmd that copies it (a Command
// with produces: cutoff); a Use whose read hook reads the copy, which the run writes.
std::string chain_pipeline(int chains) {
  return R"(local ochre = require "ochre"
local Source = ochre.component "Source" {
  fields = { path = ochre.required, text = false },
  read = function(self) self.text = ochre.fs.read(self.path) or false end,
}
local Use = ochre.component "Use" {
  fields = { made = ochre.required, seen = false },
  read = function(self) self.seen = ochre.fs.read(self.made.produces[1]) or false end,
  create = function(self) print("use " .. self.identifier .. ": " .. tostring(self.seen)) end,
  update = function(self) print("use again " .. self.identifier .. ": " .. tostring(self.seen)) end,
}
local out = {}
for i = 1, )" + std::to_string(chains) + R"( do
  local src = Source("s" .. i) { path = "in" .. i .. ".txt" }
  local made = ochre.Command("copy" .. i) {
    command = "sleep 0.01; mkdir -p out && grep -v '^#' {{inputs.src.path}} > out/" .. i .. ".txt",
    inputs = { src = src },
    produces = { "out/" .. i .. ".txt" },
  }
  out[#out + 1] = Use("u" .. i) { made = made }
end
return out
)";
}

}  // namespace

TEST_CASE("a read hook that reads what a dependency writes is read again after it: one run settles",
          "[e2e][deferred]") {
  TempDir dir;
  dir.write("in1.txt", "one\n");
  dir.write("pipeline.lua", chain_pipeline(1));
  auto r = dir.ochre({"run", "pipeline.lua", "-j", "1"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  // The Use saw the file its Command wrote in this same run.
  CHECK(has(r.out, "[Use/u1] use u1: one\n"));
  r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.out == no_changes);

  dir.write("in1.txt", "two\n");
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "[Use/u1] use again u1: two\n"));
  CHECK(has(r.out, "3 done\n"));
  r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.out == no_changes);
}

TEST_CASE("plan --json marks deferred jobs and explain says what they wait for", "[e2e][deferred]") {
  TempDir dir;
  dir.write("in1.txt", "one\n");
  dir.write("pipeline.lua", chain_pipeline(1));
  auto r = dir.ochre({"plan", "pipeline.lua", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto plan = nlohmann::json::parse(r.out);
  std::map<std::string, nlohmann::json> by_key;
  for (const auto& j : plan["jobs"]) by_key[j["key"]] = j;
  CHECK(by_key["Source/s1"]["deferred"] == false);
  CHECK(by_key["Command/copy1"]["deferred"] == false);  // no read hook, its source is not cutoff
  CHECK(by_key["Use/u1"]["deferred"] == true);
  CHECK(by_key["Use/u1"]["waits_for"] == nlohmann::json::array({"Command/copy1"}));
  r = dir.ochre({"explain", "pipeline.lua", "Use/u1"});
  INFO(r.out << r.err);
  CHECK(has(r.out, "decided after Command/copy1: read and hashed again once their jobs end"));
}

TEST_CASE("cutoff: an update whose outputs come out the same stops what depends only on it",
          "[e2e][deferred][cutoff]") {
  TempDir dir;
  auto pipeline = [&](bool cutoff, const std::string& version) {
    return std::string(R"(local ochre = require "ochre"
local Build = ochre.component "Build" {
  fields = { version = ochre.required },)") + (cutoff ? "\n  cutoff = true," : "") + R"(
  create = function(self) print("build " .. self.version) return { artifact = "same bytes" } end,
  update = function(self) print("rebuild " .. self.version) return { artifact = "same bytes" } end,
}
local Deploy = ochre.component "Deploy" {
  fields = { build = ochre.required, label = "prod" },
  create = function(self) print("deploy " .. self.build.outputs.artifact) end,
  update = function(self) print("redeploy " .. self.build.outputs.artifact) end,
}
local Notify = ochre.component "Notify" {
  fields = { deploy = ochre.required },
  update = function(self) print("notify") end,
}
return Notify "n" { deploy = Deploy "d" { build = Build "b" { version = ")" + version + R"(" } } }
)";
  };
  SECTION("with cutoff the dependents do not run, their ids move, the journal says so") {
    dir.write("pipeline.lua", pipeline(true, "1"));
    REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
    dir.write("pipeline.lua", pipeline(true, "2"));
    auto r = dir.ochre({"run", "pipeline.lua"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(has(r.out, "[Build/b] rebuild 2"));
    CHECK(!has(r.out, "redeploy"));
    CHECK(!has(r.out, "notify"));
    CHECK(has(r.out, "1 done, 2 unchanged\n"));
    r = dir.ochre({"plan", "pipeline.lua"});
    CHECK(r.out == no_changes);
    CHECK(dir.query("SELECT outcome, error FROM jobs WHERE key = 'Deploy/d' ORDER BY id DESC LIMIT 1") ==
          Rows{"cutoff|cutoff: the outputs of Build/b did not change"});
    CHECK(dir.query("SELECT outcome FROM jobs WHERE key = 'Notify/n' ORDER BY id DESC LIMIT 1") == Rows{"cutoff"});
    r = dir.ochre({"history", "Deploy/d"});
    CHECK(has(r.out, "cutoff"));
    // A change of the dependent's own still runs it.
    std::string text = pipeline(true, "2");
    text.replace(text.find("label = \"prod\""), 14, "label = \"test\"");
    dir.write("pipeline.lua", text);
    r = dir.ochre({"run", "pipeline.lua"});
    INFO(r.out << r.err);
    CHECK(has(r.out, "redeploy same bytes"));
  }
  SECTION("without cutoff the dependents run as before") {
    dir.write("pipeline.lua", pipeline(false, "1"));
    REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
    dir.write("pipeline.lua", pipeline(false, "2"));
    auto r = dir.ochre({"run", "pipeline.lua"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(has(r.out, "redeploy same bytes"));
    CHECK(has(r.out, "notify"));
    CHECK(has(r.out, "3 done\n"));
  }
}

TEST_CASE("a bad cutoff is exit 2 at the user's line, the state untouched", "[e2e][deferred][cutoff]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local T = ochre.component "T" {
  cutoff = "yes",
}
return T "t" {}
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(has(r.err, "pipeline.lua:2"));
  CHECK(has(r.err, "cutoff must be true or false (got \"yes\")"));
  CHECK(!dir.has_state());
}

TEST_CASE("Command produces: a missing file fails the job, delete removes the files unless keep",
          "[e2e][deferred][stdlib]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
return {
  ochre.Command "made" { command = "echo made > made.txt", produces = { "made.txt" } },
  ochre.Command "kept" { command = "echo kept > kept.txt", produces = { "kept.txt" }, keep = true },
  ochre.Command "liar" { command = "true", produces = { "never.txt" } },
}
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "produces 'never.txt', but the file is missing after command"));
  r = dir.ochre({"state", "show", "Command/made", "--json"});
  auto shown = nlohmann::json::parse(r.out);
  auto sum = dir.run({"/bin/sh", "-c", "sha256sum made.txt | cut -d' ' -f1"});
  CHECK(shown["outputs"]["files"]["made.txt"] == e2e::first_line(sum.out));
  r = dir.ochre({"destroy", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(!dir.exists("made.txt"));
  CHECK(dir.exists("kept.txt"));
}

TEST_CASE("files the pipeline reads while it loads are its inputs", "[e2e][deferred][inputs]") {
  TempDir dir;
  dir.write("app.conf.tmpl", "port = 80\n");
  dir.write("data.txt", "a\nb\n");
  dir.write("helper.lua", "return { name = 'helper' }\n");
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local tmpl = assert(ochre.fs.read "app.conf.tmpl")
local n = 0
for _ in io.lines("data.txt") do n = n + 1 end
local helper = require "helper"
local T = ochre.component "T" { fields = { text = "", n = 0, name = "" } }
return T "t" { text = tmpl, n = n, name = helper.name }
)");
  auto r = dir.ochre({"plan", "pipeline.lua", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto plan = nlohmann::json::parse(r.out);
  std::set<std::string> inputs(plan["inputs"].begin(), plan["inputs"].end());
  auto abs = [&](const std::string& name) {
    return std::filesystem::absolute(dir.file(name)).lexically_normal().string();
  };
  CHECK(inputs == std::set<std::string>{abs("app.conf.tmpl"), abs("data.txt"), abs("helper.lua")});
}

TEST_CASE("ochre watch re-applies when a file the pipeline read while loading changes", "[e2e][deferred][inputs][watch]") {
  TempDir dir;
  dir.write("app.conf.tmpl", "port = 80\n");
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local T = ochre.component "T" {
  fields = { text = "" },
  create = function(self) print("made " .. self.text) end,
  update = function(self) print("now " .. self.text) end,
}
return T "t" { text = assert(ochre.fs.read "app.conf.tmpl") }
)");
  auto p = dir.start({"watch", "pipeline.lua"});
  REQUIRE(e2e::wait_until([&] { return has(p->out_so_far(), "cycle 1: 1 done"); }));
  dir.write("app.conf.tmpl", "port = 81\n");
  REQUIRE(e2e::wait_until([&] { return has(p->out_so_far(), "cycle 2: 1 done"); }));
  CHECK(has(p->out_so_far(), "[T/t] now port = 81"));
  REQUIRE(p->signal(SIGINT));
  auto r = p->wait();
  INFO(r.out << r.err);
  CHECK(r.code == 0);
}

TEST_CASE("plans do not depend on Lua's table order: sub-components in a map, with a read hook",
          "[e2e][deferred][order]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local L = ochre.component "L" { fields = {} }
local P = ochre.component "P" { fields = { m = {} }, read = function(self) end }
return P "p" { m = { zeta = L "1" {}, alpha = L "2" {}, mid = L "3" {}, beta = L "4" {} } }
)");
  auto first = dir.ochre({"plan", "pipeline.lua"});
  INFO(first.out << first.err);
  REQUIRE(first.code == 0);
  // Table order changes with the process's string hashing seed: several processes.
  for (int i = 0; i < 8; ++i) CHECK(dir.ochre({"plan", "pipeline.lua"}).out == first.out);
  // In the order of the map's keys: alpha, beta, mid, zeta.
  auto rows = e2e::plan_rows(first.out);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].key == "L/2");
  CHECK(rows[1].key == "L/4");
  CHECK(rows[2].key == "L/3");
  CHECK(rows[3].key == "L/1");
}

TEST_CASE("kill -9 during deferred decisions, then a rerun: the same state as an uninterrupted run",
          "[e2e][deferred][interrupt][kill]") {
  const int chains = 6;
  auto setup = [&](const TempDir& d) {
    for (int i = 1; i <= chains; ++i) d.write("in" + std::to_string(i) + ".txt", "v1 " + std::to_string(i) + "\n");
    d.write("pipeline.lua", chain_pipeline(chains));
  };
  auto edit = [&](const TempDir& d) {
    d.write("in1.txt", "v2\n");                                     // a real change
    d.write("in2.txt", d.read("in2.txt") + "# dropped by the copy\n");  // cut off after the copy
  };
  auto snapshot = [](const TempDir& d) {
    return d.query("SELECT key, uuid, hash, status FROM instances ORDER BY key");
  };
  TempDir calm, killed;
  setup(calm);
  setup(killed);
  REQUIRE(calm.ochre({"run", "pipeline.lua"}).code == 0);
  Rows created = snapshot(calm);
  edit(calm);
  REQUIRE(calm.ochre({"run", "pipeline.lua"}).code == 0);
  Rows updated = snapshot(calm);

  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("OCHRE_E2E_SEED")) seed = static_cast<unsigned>(std::atol(s));
  INFO("seed " << seed << " (set OCHRE_E2E_SEED to repeat)");
  std::mt19937 rng(seed);
  auto kill_some = [&](int times) {
    for (int k = 0; k < times; ++k) {
      // A command a killed ochre started may hold its lock for a moment longer.
      auto p = killed.start({"run", "pipeline.lua", "--lock-timeout", "10"});
      // A random point of the run (the commands take ~10 ms each): not a synchronisation.
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60000)(rng)));
      p->signal(SIGKILL);
      auto r = p->wait();
      INFO("run " << k << " exited " << r.code << "\n" << r.out << r.err);
      REQUIRE((r.code == 0 || r.code == 128 + SIGKILL));
    }
    auto r = killed.ochre({"run", "pipeline.lua", "--lock-timeout", "10"});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(killed.ochre({"plan", "pipeline.lua"}).out == no_changes);
  };
  kill_some(8);
  CHECK(snapshot(killed) == created);
  edit(killed);
  kill_some(8);
  CHECK(snapshot(killed) == updated);
}
