// Lifecycle options (protect, retry, pool), --exclude and watch --cron, end to end; the
// e2e-pg run of the suite runs them on PostgreSQL too.
#include <catch2/catch.hpp>

#include <signal.h>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::subst;
using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

// Db (with a breaking `engine`) and App (using a Db), hooks printing what they do.
const std::string prelude = std::string(e2e::printing_prelude) + R"(
local Db = T("Db", { breaks = { "engine" }, fields = { engine = "pg", size = 1 } })
local App = T("App", { fields = { db = ochre.optional, v = 1 } })
)";

std::string pipeline(const std::string& body) { return prelude + body + "\n"; }

}  // namespace

TEST_CASE("lifecycle options are never hashed: adding or changing them plans nothing", "[e2e][lifecycle]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(return { Db "a" { size = 2 }, App "b" {} })"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  dir.write("p.lua", pipeline(R"(
ochre.settings { pools = { slow = 2 } }
return { ochre.lifecycle(Db "a" { size = 2 }, { protect = true, retry = { attempts = 3, delay = 1 }, pool = "slow" }),
         ochre.lifecycle(App "b" {}, { timeout = 30 }) })"));
  auto r = dir.ochre({"plan", "p.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("a bad lifecycle option is exit 2 at the user's line with the closest option and state untouched",
          "[e2e][lifecycle]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(return Db "a" {})"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  std::string before = dir.state_bytes();
  struct Case {
    std::string body, error;
  };
  std::vector<Case> cases = {
      {"return ochre.lifecycle(Db \"a\" {}, { protec = true })",
       ":11: ochre.lifecycle(Db/a): unknown option 'protec' (did you mean 'protect'?)"},
      {"return ochre.lifecycle(Db \"a\" {}, { protect = \"yes\" })",
       ":11: ochre.lifecycle(Db/a): protect takes true or false (got \"yes\")"},
      {"return ochre.lifecycle(Db \"a\" {}, { retry = { attempts = 0 } })",
       ":11: ochre.lifecycle(Db/a): retry.attempts takes a whole number, 1 or more (got number 0)"},
      {"return ochre.lifecycle(Db \"a\" {}, { retry = { dealy = 1 } })",
       ":11: ochre.lifecycle(Db/a): unknown option 'retry.dealy' (did you mean 'delay'?)"},
      {"return ochre.lifecycle(Db \"a\" {}, { zzz = 1 })",
       "unknown option 'zzz' (options: pool, protect, retry, timeout)"},
      {"return ochre.lifecycle(\"a\", { protect = true })", "ochre.lifecycle takes an instance"},
      {"local X = ochre.component \"X\" { lifecycle = { pool = 3 } }\nreturn Db \"a\" {}",
       ":11: ochre.component \"X\" lifecycle: pool takes the name of a pool"},
      {"ochre.settings { pools = { db = 1 } }\nreturn ochre.lifecycle(Db \"a\" {}, { pool = \"dbs\" })",
       ":12: Db/a runs in pool 'dbs', which ochre.settings { pools = { ... } } does not declare (declared: db)"},
      {"ochre.settings { pools = { db = 0 } }\nreturn Db \"a\" {}",
       ":11: ochre.settings: pool 'db' takes a whole number of jobs, 1 or more (got number 0)"},
  };
  for (const auto& c : cases) {
    dir.write("p.lua", pipeline(c.body));
    for (const char* cmd : {"run", "plan"}) {
      auto r = dir.ochre({cmd, "p.lua"});
      INFO(cmd << " " << c.body << "\n" << r.out << r.err);
      CHECK(r.code == 2);
      CHECK(r.err.find(c.error) != std::string::npos);
      CHECK(r.err.find("traceback") == std::string::npos);
    }
  }
  CHECK(dir.state_bytes() == before);
}

TEST_CASE("protect refuses a destroy or a removal or a replace before any job runs while an update runs",
          "[e2e][lifecycle]") {
  TempDir dir;
  const std::string prod = R"(ochre.lifecycle(Db "prod" { size = {{SIZE}}, engine = "{{ENGINE}}" }, { protect = true }))";
  auto with = [&](const std::string& size, const std::string& engine, const std::string& extra = "") {
    return pipeline("return { " + subst(subst(prod, "SIZE", size), "ENGINE", engine) + ", Db \"dev\" {}" + extra + " }");
  };
  dir.write("p.lua", with("1", "pg"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);

  // An update runs as usual.
  dir.write("p.lua", with("2", "pg"));
  auto r = dir.ochre({"run", "p.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "UPDATE Db/prod") == 1);
  const std::string before = dir.state_bytes();

  auto refused = [&](const std::vector<std::string>& args, const std::string& reason) {
    auto res = dir.ochre(args);
    INFO(res.out << res.err);
    CHECK(res.code == 2);
    CHECK(res.err.find("refused: the plan would delete or replace protected instances (nothing ran):\n  Db/prod (" +
                       reason + ")") != std::string::npos);
    CHECK(res.err.find("ochre.lifecycle(instance, { protect = false })") != std::string::npos);
    CHECK(res.out.find("] DELETE") == std::string::npos);
    CHECK(res.out.find("] CREATE") == std::string::npos);
    CHECK(dir.state_bytes() == before);
  };
  refused({"destroy", "p.lua"}, "destroy");
  refused({"destroy", "p.lua", "Db/prod"}, "destroy");
  refused({"run", "p.lua", "--replace", "Db/prod"}, "replace: asked for with --replace");
  dir.write("p.lua", with("2", "mysql"));
  refused({"run", "p.lua"}, "replace: breaking field engine changed");
  // Gone from the pipeline: the state remembers the protection.
  dir.write("p.lua", pipeline(R"(return { Db "dev" {} })"));
  refused({"run", "p.lua"}, "removed from the pipeline");

  // Lifted in code (a run that changes nothing but the flag), then it can go.
  dir.write("p.lua", pipeline(R"(return { ochre.lifecycle(Db "prod" { size = 2 }, { protect = false }), Db "dev" {} })"));
  r = dir.ochre({"run", "p.lua"});
  REQUIRE(r.code == 0);
  dir.write("p.lua", pipeline(R"(return { Db "dev" {} })"));
  r = dir.ochre({"run", "p.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "DELETE Db/prod") == 1);
}

TEST_CASE("a type's lifecycle protects its instances and protect is recorded without a job", "[e2e][lifecycle]") {
  TempDir dir;
  std::string text = std::string(e2e::printing_prelude) + R"(
local Vault = T("Vault", { lifecycle = { protect = {{PROTECT}} }, fields = { n = 1 } })
return { {{BODY}} }
)";
  dir.write("p.lua", subst(subst(text, "PROTECT", "false"), "BODY", "Vault \"v\" {}, Vault \"w\" {}"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  dir.write("p.lua", subst(subst(text, "PROTECT", "true"), "BODY", "Vault \"v\" {}, Vault \"w\" {}"));
  auto r = dir.ochre({"run", "p.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);
  const std::string before = dir.state_bytes();
  dir.write("p.lua", subst(subst(text, "PROTECT", "true"), "BODY", "Vault \"w\" {}"));
  r = dir.ochre({"run", "p.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(r.err.find("  Vault/v (removed from the pipeline)") != std::string::npos);
  CHECK(dir.state_bytes() == before);
}

TEST_CASE("retry: a failing hook is tried again and each attempt journaled and failing after the last",
          "[e2e][lifecycle]") {
  TempDir dir;
  // Fails until its attempt number reaches ok_at; counts attempts in a file.
  std::string text = R"(local ochre = require "ochre"
local Flaky = ochre.component "Flaky" {
  fields = { ok_at = 1 },
  lifecycle = { retry = { attempts = {{ATTEMPTS}}, delay = 0.01, backoff = 2 } },
  create = function(self)
    local n = #(ochre.fs.read("attempts") or "") + 1
    ochre.fs.write("attempts", ("x"):rep(n))
    if n < self.ok_at then error("attempt " .. n .. " failed") end
  end,
}
return Flaky "f" { ok_at = {{OK_AT}} }
)";
  dir.write("p.lua", subst(subst(text, "ATTEMPTS", "3"), "OK_AT", "3"));
  auto r = dir.ochre({"run", "p.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.read("attempts") == "xxx");
  auto log = dir.ochre({"log", "--json"});
  CHECK(count(log.out, "attempt 1 of 3 failed, tried again in 0.01s") == 1);
  CHECK(count(log.out, "attempt 2 of 3 failed, tried again in 0.02s") == 1);

  TempDir dir2;
  dir2.write("p.lua", subst(subst(text, "ATTEMPTS", "2"), "OK_AT", "5"));
  r = dir2.ochre({"run", "p.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(dir2.read("attempts") == "xx");
  CHECK(r.err.find("attempt 2 failed") != std::string::npos);
}

TEST_CASE("retry: the wait between attempts leaves its place to other jobs", "[e2e][lifecycle]") {
  TempDir dir;
  // With -j 1, A's second attempt succeeds only if B ran while A waited.
  dir.write("p.lua", R"(local ochre = require "ochre"
local A = ochre.component "A" {
  lifecycle = { retry = { attempts = 2, delay = 0.2 } },
  create = function(self) if not ochre.fs.exists("b-ran") then error("B has not run yet") end end,
}
local B = ochre.component "B" { create = function(self) ochre.fs.write("b-ran", "yes") end }
return { A "a", B "b" }
)");
  auto r = dir.ochre({"run", "p.lua", "-j", "1"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
}

TEST_CASE("retry: kill -9 during the wait leaves a state the next run finishes", "[e2e][lifecycle]") {
  TempDir dir;
  dir.write("p.lua", R"(local ochre = require "ochre"
local A = ochre.component "A" {
  lifecycle = { retry = { attempts = 2, delay = 600 } },
  create = function(self)
    if not ochre.fs.exists("failed-once") then ochre.fs.write("failed-once", "") error("first attempt fails") end
  end,
}
local B = ochre.component "B" { create = function(self) ochre.fs.write("b-ran", "yes") end }
return { A "a", B "b" }
)");
  auto p = dir.start({"run", "p.lua", "-j", "1"}, dir.state_env());
  // B runs once A's failed attempt is journaled and its wait began.
  REQUIRE(dir.wait_for_file("b-ran"));
  REQUIRE(p->signal(SIGKILL));
  p->wait();
  auto r = dir.ochre({"run", "p.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.ochre({"plan", "p.lua"}).out == no_changes);
}

TEST_CASE("pool: at most N jobs of a pool at once", "[e2e][lifecycle]") {
  std::string text = R"(local ochre = require "ochre"
ochre.settings { pools = { p = 1 } }
local S = ochre.component "S" {
  lifecycle = {{LIFECYCLE}},
  create = function(self)
    local function note(c) local f = io.open("trace", "a") f:write(c) f:close() end
    note("+")
    ochre.sleep(0.05)
    note("-")
  end,
}
return { S "a", S "b", S "c" }
)";
  TempDir dir;
  dir.write("p.lua", subst(text, "LIFECYCLE", R"({ pool = "p" })"));
  auto r = dir.ochre({"run", "p.lua", "-j", "4"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.read("trace") == "+-+-+-");
  // Without the pool they overlap (so the check above can fail).
  TempDir free;
  free.write("p.lua", subst(text, "LIFECYCLE", "{}"));
  REQUIRE(free.ochre({"run", "p.lua", "-j", "4"}).code == 0);
  CHECK(free.read("trace") != "+-+-+-");
}

TEST_CASE("excluding a key leaves it and its dependents out but what it depends on still runs", "[e2e][lifecycle]") {
  TempDir dir;
  auto body = [](const std::string& v) {
    return pipeline("local db = Db \"d\" { size = " + v + " }\nreturn { App \"a\" { db = db, v = " + v +
                    " }, App \"other\" { v = " + v + " } }");
  };
  dir.write("p.lua", body("1"));
  REQUIRE(dir.ochre({"run", "p.lua"}).code == 0);
  dir.write("p.lua", body("2"));
  auto r = dir.ochre({"run", "p.lua", "--exclude", "App/a"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "UPDATE Db/d") == 1);
  CHECK(count(r.out, "UPDATE App/other") == 1);
  CHECK(r.out.find("App/a") == std::string::npos);
  // Excluding the sub-component leaves out its user too.
  dir.write("p.lua", body("3"));
  r = dir.ochre({"plan", "p.lua", "--exclude", "Db/d"});
  CHECK(r.code == 0);
  CHECK(r.out.find("Db/d") == std::string::npos);
  CHECK(r.out.find("App/a") == std::string::npos);
  CHECK(r.out.find("App/other") != std::string::npos);

  // Destroying what an excluded instance uses is refused; the state is untouched.
  const std::string before = dir.state_bytes();
  r = dir.ochre({"destroy", "p.lua", "--exclude", "App/a"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(r.err.find("--exclude App/a: App/a must be deleted before Db/d, which this run deletes") != std::string::npos);
  CHECK(dir.state_bytes() == before);
  r = dir.ochre({"run", "p.lua", "--exclude", "Nope/x"});
  CHECK(r.code == 2);
  CHECK(dir.state_bytes() == before);
  // Excluding the dependency too: the rest is destroyed.
  r = dir.ochre({"destroy", "p.lua", "--exclude", "Db/d"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "DELETE App/other") == 1);
  CHECK(r.out.find("DELETE Db/d") == std::string::npos);
}

TEST_CASE("watch --cron: a bad expression is exit 2 naming the field", "[e2e][lifecycle]") {
  TempDir dir;
  dir.write("p.lua", pipeline(R"(return Db "a" {})"));
  auto r = dir.ochre({"watch", "p.lua", "--cron", "0 25 * * *"});
  CHECK(r.code == 2);
  CHECK(r.err.find("the hour field '25' is out of range (0-23)") != std::string::npos);
  r = dir.ochre({"watch", "p.lua", "--cron", "0 3 * *"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--cron takes five fields") != std::string::npos);
  CHECK_FALSE(dir.has_state());
}
