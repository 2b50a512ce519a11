// ochre.moved, ochre.removed and `ochre import`, end to end; the e2e-pg run of the suite
// runs them on PostgreSQL too.
#include <catch2/catch.hpp>

#include <signal.h>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

// Db (with a breaking `engine`) and App (using a Db), hooks printing what they do; the
// body starts at line 11.
const std::string prelude = std::string(e2e::printing_prelude) + R"(
local Db = T("Db", { breaks = { "engine" }, fields = { engine = "pg", size = 1 } })
local App = T("App", { fields = { db = ochre.optional, v = 1 } })
)";

std::string pipeline(const std::string& body) { return prelude + body + "\n"; }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A type whose read hook sees the world (the file `world-KEY`, when there) and returns
// outputs; the body starts at line 14.
const std::string reader = R"(local ochre = require "ochre"
local Bucket = ochre.component "Bucket" {
  fields = { size = 1, seen = ochre.optional },
  read = function(self)
    ochre.fs.write("read-" .. self.identifier, "ran")
    if ochre.fs.exists("block") then ochre.sleep(600) end
    local world = ochre.fs.exists("world-" .. self.identifier) and ochre.fs.read("world-" .. self.identifier)
    if world then self.seen = world end
    return { id = "ext-" .. self.identifier }
  end,
  create = function(self) print("CREATE " .. tostring(self)) return { id = "made" } end,
  update = function(self) print("UPDATE " .. tostring(self)) end,
  delete = function(self) print("DELETE " .. tostring(self)) end,
}
)";

}  // namespace

TEST_CASE("moved: a renamed identifier plans no delete and no create, plan shows it and writes nothing",
          "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(local db = Db "old" { size = 2 }
return { db, App "a" { db = db } })"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  dir.write("p.lua", pipeline(R"(ochre.moved { from = "Db/old", to = "Db/new" }
local db = Db "new" { size = 2 }
return { db, App "a" { db = db } })"));
  std::string before = dir.state_bytes();
  auto plan = dir.ochre({"plan", "p.lua"});
  INFO(plan.out << plan.err);
  CHECK(plan.code == 0);
  CHECK(plan.out == "moved: Db/old -> Db/new (in the state only, no job)\n" + no_changes);
  auto json = dir.ochre({"plan", "p.lua", "--json"});
  CHECK(has(json.out, R"("moved":[{"from":"Db/old","to":"Db/new"}])"));
  CHECK(dir.ochre({"plan", "p.lua", "--exit-code"}).code == 1);  // a change, though no job
  CHECK(dir.state_bytes() == before);  // plan writes nothing

  auto run = dir.ochre({"run", "p.lua"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(has(run.out, "moved: Db/old -> Db/new"));
  CHECK_FALSE(has(run.out, "CREATE"));
  CHECK_FALSE(has(run.out, "DELETE"));
  CHECK_FALSE(has(run.out, "UPDATE"));
  auto list = dir.ochre({"state", "list"});
  CHECK(has(list.out, "Db/new"));
  CHECK_FALSE(has(list.out, "Db/old"));
  // Its history followed it.
  CHECK(has(dir.ochre({"history", "Db/new"}).out, "create"));
  // Done once: the `moved` is now ignored, and so it stays.
  CHECK(dir.ochre({"plan", "p.lua"}).out == no_changes);
  CHECK(dir.ochre({"plan", "p.lua", "--exit-code"}).code == 0);
  CHECK(dir.ochre({"run", "p.lua"}).out == no_changes);
  CHECK(dir.ochre({"plan", "p.lua"}).out == no_changes);
}

TEST_CASE("moved: one whose from was never stored is ignored, one whose to is stored already is exit 2",
          "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(ochre.moved { from = "Db/never", to = "Db/a" }
return { Db "a" {}, Db "b" {} })"));
  auto first = dir.ochre({"run", "p.lua"});
  INFO(first.out << first.err);
  CHECK(first.code == 0);
  CHECK(count(first.out, "] CREATE") == 2);
  CHECK_FALSE(has(first.out, "moved:"));

  dir.write("p.lua", pipeline(R"(ochre.moved { from = "Db/a", to = "Db/b" }
return { Db "b" {} })"));
  std::string before = dir.state_bytes();
  for (const char* cmd : {"run", "plan"}) {
    auto r = dir.ochre({cmd, "p.lua"});
    INFO(cmd << "\n" << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(has(r.err, "p.lua:11: ochre.moved from Db/a to Db/b: the state already holds Db/b"));
    CHECK(dir.state_bytes() == before);
  }
}

TEST_CASE("removed: destroy = false forgets without the delete hook, destroy = true deletes", "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(return { Db "a" {}, Db "b" {}, Db "c" {} })"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  dir.write("p.lua", pipeline(R"(ochre.removed { key = "Db/b" }
ochre.removed { key = "Db/c", destroy = true }
ochre.removed { key = "Db/gone", destroy = false }
return { Db "a" {} })"));
  std::string before = dir.state_bytes();
  auto plan = dir.ochre({"plan", "p.lua"});
  INFO(plan.out << plan.err);
  CHECK(plan.code == 0);
  CHECK(has(plan.out, "removed: Db/b leaves the state, not deleted (ochre.removed destroy = false)\n"));
  CHECK(has(plan.out, "- Db/c"));
  CHECK_FALSE(has(plan.out, "- Db/b"));
  CHECK_FALSE(has(plan.out, "Db/gone"));
  CHECK(has(dir.ochre({"plan", "p.lua", "--json"}).out, R"("removed":["Db/b"])"));
  CHECK(dir.state_bytes() == before);

  auto run = dir.ochre({"run", "p.lua", "--yes"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(has(run.out, "DELETE Db/c"));
  CHECK_FALSE(has(run.out, "DELETE Db/b"));
  auto list = dir.ochre({"state", "list"});
  CHECK(has(list.out, "Db/a"));
  CHECK_FALSE(has(list.out, "Db/b"));
  CHECK_FALSE(has(list.out, "Db/c"));
  CHECK(dir.ochre({"plan", "p.lua"}).out == no_changes);
}

TEST_CASE("removed: only with a run, in the run's plan even when it has no job", "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(return { Db "a" {}, Db "b" {} })"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  dir.write("p.lua", pipeline(R"(ochre.removed { key = "Db/b" }
return { Db "a" {} })"));
  auto dry = dir.ochre({"run", "p.lua", "--dry-run"});
  CHECK(dry.code == 0);
  CHECK(has(dir.ochre({"state", "list"}).out, "Db/b"));
  auto run = dir.ochre({"run", "p.lua"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(run.out == "removed: Db/b leaves the state, not deleted (ochre.removed destroy = false)\n" + no_changes);
  CHECK_FALSE(has(dir.ochre({"state", "list"}).out, "Db/b"));
}

TEST_CASE("moved and removed: bad inputs are exit 2 at the user's line, the state untouched", "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(return { Db "a" {}, Db "b" {} })"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  std::string before = dir.state_bytes();
  struct Case {
    std::string body, error;
  };
  std::vector<Case> cases = {
      {"ochre.moved \"Db/a\"\nreturn Db \"b\" {}",
       "p.lua:11: ochre.moved takes { from = \"Type/old\", to = \"Type/new\" } (got \"Db/a\")"},
      {"ochre.moved { from = \"Db/a\", too = \"Db/c\" }\nreturn Db \"b\" {}", "p.lua:11: ochre.moved takes"},
      {"ochre.moved { from = \"Db/a\" }\nreturn Db \"b\" {}", "(got to = nil)"},
      {"ochre.moved { from = \"a\", to = \"Db/c\" }\nreturn Db \"b\" {}", "(got from = \"a\")"},
      {"ochre.moved { from = \"Db/a\", to = \"Db/a\" }\nreturn Db \"a\" {}", "p.lua:11: ochre.moved takes"},
      {"ochre.moved { from = \"Db/a\", to = \"App/a\" }\nreturn Db \"b\" {}",
       "p.lua:11: ochre.moved renames an identifier: Db/a and App/a have different types"},
      {"ochre.moved { from = \"Db/a\", to = \"Db/c\" }\nochre.moved { from = \"Db/a\", to = \"Db/d\" }\nreturn Db \"b\" {}",
       "p.lua:12: Db/a is moved twice: at p.lua:11 and here"},
      {"ochre.removed { key = \"Db/a\", destroy = \"no\" }\nreturn Db \"b\" {}",
       "p.lua:11: ochre.removed takes { key = \"Type/id\", destroy = false } (got destroy = \"no\")"},
      {"ochre.removed { keys = \"Db/a\" }\nreturn Db \"b\" {}", "(got an entry \"keys\")"},
      {"ochre.removed(5)\nreturn Db \"b\" {}", "(got number 5)"},
      {"ochre.removed { key = \"Db/a\" }\nreturn { Db \"a\" {}, Db \"b\" {} }",
       "p.lua:11: ochre.removed Db/a: the pipeline still declares it (at p.lua:12); drop one of them"},
  };
  for (const auto& c : cases) {
    dir.write("p.lua", pipeline(c.body));
    for (const char* cmd : {"run", "plan"}) {
      auto r = dir.ochre({cmd, "p.lua"});
      INFO(cmd << " " << c.body << "\n" << r.out << r.err);
      CHECK(r.code == 2);
      CHECK(has(r.err, c.error));
      CHECK_FALSE(has(r.err, "traceback"));
      CHECK(dir.state_bytes() == before);
    }
  }
}

TEST_CASE("import: read runs, no create, stored as read, the next plan shows only what differs",
          "[e2e][moves]") {
  TempDir dir;
  dir.write("world-x", "42");
  dir.write("p.lua", reader + "return { Bucket \"x\" { size = 3 }, Bucket \"y\" {} }\n");
  auto r = dir.ochre({"import", "p.lua", "Bucket/x"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "Imported Bucket/x (its read hook ran, no create); 'ochre plan' shows what still differs\n");
  CHECK(dir.exists("read-x"));
  auto show = dir.ochre({"state", "show", "Bucket/x"});
  INFO(show.out);
  CHECK(has(show.out, "ext-x"));   // the outputs read returned
  CHECK(has(show.out, "42"));      // the field read set
  CHECK_FALSE(has(dir.ochre({"state", "list"}).out, "Bucket/y"));
  CHECK(has(dir.ochre({"log"}).out, "import"));

  // Only Bucket/y is left to create; Bucket/x is as it was read.
  auto plan = dir.ochre({"plan", "p.lua"});
  INFO(plan.out);
  CHECK(count(plan.out, "CREATE") == 1);
  CHECK(has(plan.out, "+ Bucket/y"));
  CHECK_FALSE(has(plan.out, "Bucket/x"));
  // What the world or the code change later is an update.
  dir.write("world-x", "43");
  plan = dir.ochre({"plan", "p.lua"});
  CHECK(has(plan.out, "~ Bucket/x"));
  auto run = dir.ochre({"run", "p.lua"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(has(run.out, "UPDATE Bucket/x"));
  CHECK_FALSE(has(run.out, "CREATE Bucket/x"));
  CHECK(dir.ochre({"plan", "p.lua"}).out == no_changes);
}

TEST_CASE("import: bad requests are exit 2 with the reason, the state untouched", "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", reader + "local Plain = ochre.component \"Plain\" { create = function() end }\n"
                              "return { Bucket \"x\" {}, Bucket \"y\" {}, Plain \"p\" }\n");
  REQUIRE(dir.ochre({"import", "p.lua", "Bucket/y"}).code == 0);
  std::string before = dir.state_bytes();
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  std::vector<Case> cases = {
      {{"import", "p.lua", "Plain/p"},
       "p.lua:16: cannot import Plain/p: its type Plain has no read hook to see what exists"},
      {{"import", "p.lua", "Bucket/nope"}, "no instance 'Bucket/nope' in the pipeline"},
      {{"import", "p.lua", "Bucket/y"}, "cannot import Bucket/y: the state holds it already"},
      {{"import", "p.lua", "nokey"}, "'nokey' is not a Type/identifier key"},
      {{"import", "p.lua"}, "'import' takes a FILE and a KEY"},
      {{"import", "p.lua", "Bucket/x", "more"}, "'import' takes a FILE and a KEY"},
  };
  for (const auto& c : cases) {
    auto r = dir.ochre(c.args);
    INFO(c.args.back() << "\n" << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(has(r.err, c.error));
    CHECK(dir.state_bytes() == before);
  }
}

TEST_CASE("import: kill -9 while read runs leaves nothing half-imported and importing again works",
          "[e2e][moves]") {
  TempDir dir;
  dir.write("p.lua", reader + "return Bucket \"x\" {}\n");
  dir.write("block", "");
  auto p = dir.start({"import", "p.lua", "Bucket/x"}, dir.state_env());
  REQUIRE(dir.wait_for_file("read-x"));
  REQUIRE(p->signal(SIGKILL));
  p->wait();
  CHECK_FALSE(has(dir.ochre({"state", "list"}).out, "Bucket/x"));
  std::remove(dir.file("block").c_str());
  auto r = dir.ochre({"import", "p.lua", "Bucket/x"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(has(dir.ochre({"state", "list"}).out, "Bucket/x"));
  CHECK(dir.ochre({"plan", "p.lua"}).out == no_changes);
}
