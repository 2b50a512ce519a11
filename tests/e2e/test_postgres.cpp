// The PostgreSQL state: workspaces, the advisory lock, a server restarted mid-run,
// migration between SQLite and PostgreSQL, and the password kept out of sight. These run
// in the PostgreSQL run of the suite only ([postgres]); each test has a schema of its own.
// The lock's other cases (kill -9 of the holder while another waits, --lock-timeout) are
// the [lock] tests of test_interrupts.cpp, which run against both stores.
#include <catch2/catch.hpp>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "e2e/harness.hpp"
#include "e2e/scheduler.hpp"

using e2e::count;
using e2e::no_changes;
using e2e::sched_prelude;
using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

std::string url_of(const TempDir& dir) {
  auto env = dir.state_env();
  REQUIRE(env.count("OCHRE_STATE"));
  return env.at("OCHRE_STATE");
}

// The same URL with another schema.
std::string with_schema(const std::string& url, const std::string& schema) {
  return url.substr(0, url.find("schema=") + 7) + schema;
}

// One instance whose create holds until the file "release" exists (and says "holding"),
// and one that finishes at once.
std::string holding(const TempDir& dir) {
  return sched_prelude(dir) + R"(
local L = ochre.component "L" {
  create = function(self)
    append("ran", tostring(self))
    touch("holding")
    ochre.wait_file(path("release"))
  end,
}
local Q = ochre.component "Q" { create = function(self) append("ran", tostring(self)) end }
return { L "one" {}, Q "quick" {} }
)";
}

std::string simple(const TempDir& dir, const std::string& name, const std::string& settings = "") {
  return sched_prelude(dir) + settings + R"(
local S = ochre.component "S" { fields = { n = 1 }, create = function(self) append("ran", tostring(self)) end }
return S ")" + name + R"(" { n = 2 }
)";
}

// A pipeline with some history: created, updated, one replaced.
std::string versioned(const std::string& label, int size) {
  return R"(
local ochre = require "ochre"
local Img = ochre.component "Img" {
  fields = { label = "x", size = 1 },
  breaks = { "size" },
  create = function(self) return { made = self.label } end,
  update = function(self) return { made = self.label } end,
  delete = function(self) end,
}
local Pack = ochre.component "Pack" { fields = { img = ochre.required }, create = function(self) end,
  update = function(self) end }
local a = Img "a" { label = ")" + label + R"(", size = )" + std::to_string(size) + R"( }
local b = Img "b" { label = "fixed" }
return { Pack "p" { img = a }, b }
)";
}

void restart_postgres() {
  const char* data = std::getenv("OCHRE_TEST_PG_DIR");
  const char* bin = std::getenv("OCHRE_TEST_PG_BIN");
  REQUIRE(data);
  REQUIRE(bin);
  std::string cmd = std::string(getuid() == 0 ? "runuser -u postgres -- " : "") + bin + "/pg_ctl -D " + data +
                    "/data -m fast -w -t 60 restart >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace

TEST_CASE("postgres: two processes racing for one workspace, one applies and the other exits 3 naming it",
          "[e2e][postgres][lock]") {
  TempDir dir;
  dir.write("pipeline.lua", holding(dir));
  auto a = dir.start({"run", "pipeline.lua"});
  auto b = dir.start({"run", "pipeline.lua"});
  // One of them takes the lock and holds; the other finds it taken.
  REQUIRE(e2e::wait_until([&] { return !a->running() || !b->running(); }));
  auto& loser = a->running() ? b : a;
  auto& winner = a->running() ? a : b;
  auto lost = loser->wait();
  INFO(lost.out << lost.err);
  CHECK(lost.code == 3);
  CHECK(lost.err.find("is locked by pid " + std::to_string(winner->pid()) + " on ") != std::string::npos);
  CHECK(lost.err.find(" since ") != std::string::npos);
  REQUIRE(dir.wait_for_file("holding"));
  dir.write("release", "");
  auto won = winner->wait();
  INFO(won.out << won.err);
  CHECK(won.code == 0);
  CHECK(count(won.out, "2 done\n") == 1);
  auto ran = dir.lines("ran");
  CHECK(std::count(ran.begin(), ran.end(), "L/one") == 1);
  CHECK(dir.query("SELECT count(*) FROM runs") == Rows{"1"});
}

TEST_CASE("postgres: two workspaces of one database are applied at the same time, each with its own state",
          "[e2e][postgres][workspace]") {
  TempDir dir;
  dir.write("hold/pipeline.lua", holding(dir));
  dir.write("other/pipeline.lua", simple(dir, "s"));
  auto held = dir.start({"run", "hold/pipeline.lua", "--workspace", "team-a"});
  REQUIRE(dir.wait_for_file("holding"));
  // team-b is not held by team-a's run.
  auto r = dir.ochre({"run", "other/pipeline.lua", "--workspace", "team-b"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "1 done\n") == 1);
  // Nor is the default workspace; team-a is.
  CHECK(dir.ochre({"run", "other/pipeline.lua"}).code == 0);
  CHECK(dir.ochre({"run", "hold/pipeline.lua", "--workspace", "team-a"}).code == 3);
  dir.write("release", "");
  CHECK(held->wait().code == 0);

  // Each workspace has its own instances and journal.
  auto list = [&](const std::string& ws) {
    Rows args{"state", "list"};
    if (!ws.empty()) args.insert(args.end(), {"--workspace", ws});
    return dir.ochre(args).out;
  };
  CHECK(list("team-a").find("L/one") != std::string::npos);
  CHECK(list("team-a").find("S/s") == std::string::npos);
  CHECK(list("team-b").find("S/s") != std::string::npos);
  CHECK(list("team-b").find("L/one") == std::string::npos);
  CHECK(list("").find("S/s") != std::string::npos);
  CHECK(dir.ochre({"log", "--workspace", "team-b"}).out.rfind("run ", 0) == 0);
  CHECK(dir.ochre({"state", "list", "--workspace", "nobody"}).out == "The state is empty.\n");
  // OCHRE_WORKSPACE works like --workspace.
  r = dir.ochre({"run", "other/pipeline.lua"}, {{"OCHRE_WORKSPACE", "team-b"}});
  CHECK(r.out == no_changes);
}

TEST_CASE("postgres: the same workspace in two schemas of one database has two locks",
          "[e2e][postgres][lock]") {
  TempDir dir;
  std::string url = url_of(dir);
  dir.write("hold/pipeline.lua", holding(dir));
  dir.write("other/pipeline.lua", simple(dir, "s"));
  auto held = dir.start({"run", "hold/pipeline.lua"});
  REQUIRE(dir.wait_for_file("holding"));
  std::string other_schema = with_schema(url, url.substr(url.find("schema=") + 7) + "_two");
  auto r = dir.ochre({"run", "other/pipeline.lua", "--state", other_schema});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  dir.write("release", "");
  CHECK(held->wait().code == 0);
  CHECK(dir.ochre({"state", "list", "--state", other_schema}).out.find("S/s") != std::string::npos);
  CHECK(dir.ochre({"state", "list"}).out.find("S/s") == std::string::npos);
}

TEST_CASE("postgres: the database restarted mid-run fails the run cleanly, and the next run finishes it",
          "[e2e][postgres][restart]") {
  TempDir dir;
  dir.write("pipeline.lua", holding(dir));
  auto p = dir.start({"run", "pipeline.lua"});
  REQUIRE(dir.wait_for_file("holding"));
  // The quick job is recorded done before the restart.
  REQUIRE(e2e::wait_until([&] {
    return dir.query("SELECT outcome FROM jobs WHERE key = 'Q/quick'") == Rows{"done"};
  }));
  restart_postgres();
  dir.write("release", "");
  auto r = p->wait();
  INFO(r.out << r.err);
  CHECK(r.code != 0);
  CHECK(r.code != 128 + SIGSEGV);
  CHECK(r.code != 128 + SIGABRT);
  CHECK(r.err.find("connection") != std::string::npos);
  // Nothing that did not finish is recorded done.
  CHECK(dir.query("SELECT key, outcome FROM jobs ORDER BY key") == Rows{"L/one|running", "Q/quick|done"});

  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("retry: the last create was interrupted") != std::string::npos);
  CHECK(count(r.out, "1 done\n") == 1);
  CHECK(dir.query("SELECT key, outcome FROM jobs ORDER BY id") ==
        Rows{"L/one|interrupted", "Q/quick|done", "L/one|done"});
  auto ran = dir.lines("ran");
  CHECK(std::count(ran.begin(), ran.end(), "Q/quick") == 1);
  CHECK(dir.ochre({"run", "pipeline.lua"}).out == no_changes);
}

TEST_CASE("postgres: state migrate copies SQLite to PostgreSQL and back, and every view reads the same",
          "[e2e][postgres][migrate]") {
  TempDir dir;
  std::string url = url_of(dir);
  std::map<std::string, std::string> none{{"OCHRE_STATE", ""}};
  dir.write("pipeline.lua", versioned("one", 1));
  REQUIRE(dir.ochre({"run", "pipeline.lua", "--state", "local.db"}).code == 0);
  dir.write("pipeline.lua", versioned("two", 1));
  REQUIRE(dir.ochre({"run", "pipeline.lua", "--state", "local.db"}).code == 0);
  dir.write("pipeline.lua", versioned("two", 2));
  REQUIRE(dir.ochre({"run", "pipeline.lua", "--state", "local.db"}).code == 0);
  // Work left to plan: both sides must plan it alike.
  dir.write("pipeline.lua", versioned("three", 2));

  auto views = [&](const std::string& state) {
    Rows out;
    for (Rows args : {Rows{"plan", "pipeline.lua"}, Rows{"state", "list"}, Rows{"state", "show", "Img/a"},
                      Rows{"history", "Img/a"}, Rows{"log"}, Rows{"plan", "pipeline.lua", "--json"}}) {
      args.insert(args.end(), {"--state", state});
      auto r = dir.ochre(args, none);
      INFO(r.err);
      CHECK(r.code == 0);
      out.push_back(r.out);
    }
    return out;
  };
  Rows original = views("local.db");

  auto r = dir.ochre({"state", "migrate", "--from", "local.db", "--to", url, "pipeline.lua"}, none);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("Copied 3 instances") == 0);
  CHECK(r.out.find("3 runs") != std::string::npos);
  CHECK(r.out.find("Plans of pipeline.lua match") != std::string::npos);
  CHECK(views(url) == original);

  // And back into a new SQLite file.
  r = dir.ochre({"state", "migrate", "--from", url, "--to", "back.db", "pipeline.lua"}, none);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(views("back.db") == original);

  // A state that is not empty is not written to.
  std::string before = dir.state_bytes();
  r = dir.ochre({"state", "migrate", "--from", "local.db", "--to", url}, none);
  CHECK(r.code == 2);
  CHECK(r.err.find("is not empty") != std::string::npos);
  CHECK(dir.state_bytes() == before);
  // The migrated state is used as it is: applying it does the planned work once.
  r = dir.ochre({"run", "pipeline.lua", "--state", url}, none);
  CHECK(r.code == 0);
  CHECK(count(r.out, "2 done\n") == 1);
  CHECK(dir.ochre({"run", "pipeline.lua", "--state", url}, none).out == no_changes);
}

TEST_CASE("postgres: the password in the state URL never shows in output, messages or the journal",
          "[e2e][postgres][secrets]") {
  TempDir dir;
  std::string url = url_of(dir);
  // The test cluster trusts loopback: any password is accepted, and must stay hidden.
  std::string secret = "Sup3r-S3cret-pw";
  std::string with_pw = "postgresql://postgres:" + secret + "@" + url.substr(url.find('@') + 1);
  dir.write("pipeline.lua", holding(dir));
  std::map<std::string, std::string> env{{"OCHRE_STATE", with_pw}};
  auto held = dir.start({"run", "pipeline.lua"}, env);
  REQUIRE(dir.wait_for_file("holding"));
  std::string seen;
  auto locked = dir.ochre({"run", "pipeline.lua"}, env);
  CHECK(locked.code == 3);
  CHECK(locked.err.find("postgresql://postgres:***@") != std::string::npos);
  seen += locked.out + locked.err;
  dir.write("release", "");
  auto r = held->wait();
  CHECK(r.code == 0);
  seen += r.out + r.err;
  for (Rows args : {Rows{"log"}, Rows{"state", "list", "--json"}, Rows{"plan", "pipeline.lua", "--json"},
                    Rows{"state", "show", "nope/nope"}}) {
    auto v = dir.ochre(args, env);
    seen += v.out + v.err;
  }
  // A server that is not there: the message says so, without the password.
  std::string nowhere = "postgresql://postgres:" + secret + "@127.0.0.1:1/postgres";
  auto bad = dir.ochre({"run", "pipeline.lua", "--state", nowhere});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("cannot connect") != std::string::npos);
  seen += bad.out + bad.err;
  CHECK(seen.find(secret) == std::string::npos);
  CHECK(dir.state_bytes().find(secret) == std::string::npos);
}

TEST_CASE("postgres: ochre.settings names the state and workspace, and flags win over it",
          "[e2e][postgres][settings]") {
  TempDir dir;
  std::string url = url_of(dir);
  dir.write("pipeline.lua",
            simple(dir, "s", "ochre.settings { state = \"" + url + "\", workspace = \"from-file\" }\n"));
  std::map<std::string, std::string> none{{"OCHRE_STATE", ""}};
  auto r = dir.ochre({"run", "pipeline.lua"}, none);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK_FALSE(dir.exists(".ochre/state.db"));
  CHECK(dir.ochre({"state", "list", "--workspace", "from-file"}).out.find("S/s") != std::string::npos);
  CHECK(dir.ochre({"state", "list"}).out == "The state is empty.\n");
  // --workspace wins over the file's.
  r = dir.ochre({"run", "pipeline.lua", "--workspace", "flag"}, none);
  CHECK(count(r.out, "1 done\n") == 1);
  // A bad setting is the pipeline's error, at its line.
  dir.write("bad.lua", "local ochre = require 'ochre'\nochre.settings { workspace = 'no spaces' }\n");
  r = dir.ochre({"run", "bad.lua"}, none);
  CHECK(r.code == 2);
  CHECK(r.err.find("bad.lua:2:") != std::string::npos);
}

TEST_CASE("workspaces: a bad name is refused, and on SQLite a workspace is a file of its own",
          "[e2e][workspace]") {
  TempDir dir;
  dir.write("pipeline.lua", simple(dir, "s"));
  auto r = dir.ochre({"run", "pipeline.lua", "--workspace", "no/slash"});
  CHECK(r.code == 2);
  CHECK(r.err.find("workspace 'no/slash'") != std::string::npos);
  CHECK_FALSE(dir.has_state());
  if (e2e::postgres_backend()) return;
  r = dir.ochre({"run", "pipeline.lua", "--workspace", "team"});
  CHECK(r.code == 0);
  CHECK(dir.exists(".ochre/state.team.db"));
  CHECK_FALSE(dir.exists(".ochre/state.db"));
  CHECK(dir.ochre({"run", "pipeline.lua", "--workspace", "team"}).out == no_changes);
  CHECK(count(dir.ochre({"run", "pipeline.lua"}).out, "1 done\n") == 1);
}
