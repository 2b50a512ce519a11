// Sensitive fields: declared per type (`sensitive = { "password" }`), hashed and stored
// like any other, never shown: plans, explain, --json, graph, the REPL, state show,
// history and the journal print "(sensitive)" or nothing.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

// The password comes from $PW; hooks print nothing about it.
const std::string pipeline = R"(local ochre = require "ochre"
local Db = ochre.component "Db" {
  sensitive = { "password" },
  breaks = { "host" },
  fields = { host = "localhost", user = "admin", password = ochre.required },
  create = function(self) print("connected as " .. self.user) end,
  update = function(self) print("updated " .. self.user) end,
}
local App = ochre.component "App" { fields = { db = ochre.required, token = "" }, sensitive = { "token" } }
return App "web" { db = Db "main" { password = os.getenv("PW") }, token = os.getenv("TOKEN") or "" }
)";

const char* const first = "hunter2-first-secret";
const char* const second = "swordfish-second-secret";

// No output of `r` holds a secret.
void no_secret(const e2e::Result& r) {
  INFO(r.out << r.err);
  CHECK(r.out.find(first) == std::string::npos);
  CHECK(r.out.find(second) == std::string::npos);
  CHECK(r.err.find(first) == std::string::npos);
  CHECK(r.err.find(second) == std::string::npos);
}

struct Applied {
  TempDir dir;
  Applied() {
    dir.write("pipeline.lua", pipeline);
    auto r = dir.ochre({"run", "pipeline.lua"}, {{"PW", first}, {"TOKEN", "t0k3n-value"}});
    REQUIRE(r.code == 0);
    no_secret(r);
  }
};

}  // namespace

TEST_CASE("sensitive fields are hashed and stored: a changed password plans an UPDATE",
          "[e2e][secrets]") {
  Applied a;
  // Stored (the state is owner-only), so the next plan can compare.
  CHECK(a.dir.query("SELECT fields LIKE '%" + std::string(first) + "%' FROM instances WHERE key = 'Db/main'") ==
        Rows{"1"});
  if (!e2e::postgres_backend()) {
    struct stat st {};
    REQUIRE(stat(a.dir.file(".ochre/state.db").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }

  auto r = a.dir.ochre({"plan", "pipeline.lua"}, {{"PW", first}, {"TOKEN", "t0k3n-value"}});
  CHECK(r.out.find("No changes needed") != std::string::npos);
  r = a.dir.ochre({"plan", "pipeline.lua"}, {{"PW", second}, {"TOKEN", "t0k3n-value"}});
  no_secret(r);
  auto rows = e2e::plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(e2e::find_row(rows, "Db/main", "update") != nullptr);
  CHECK(e2e::find_row(rows, "App/web", "update") != nullptr);
}

TEST_CASE("sensitive values are never shown by plan --json, explain, graph, run or log",
          "[e2e][secrets]") {
  Applied a;
  const std::map<std::string, std::string> env = {{"PW", second}, {"TOKEN", "t0k3n-value"}};

  auto r = a.dir.ochre({"plan", "pipeline.lua", "--json"}, env);
  no_secret(r);
  CHECK(r.out.find("t0k3n-value") == std::string::npos);
  CHECK(r.out.find(R"j("password":"(sensitive)")j") != std::string::npos);
  CHECK(r.out.find(R"j("token":"(sensitive)")j") != std::string::npos);
  CHECK(r.out.find(R"j({"field":"password","before":"(sensitive)","after":"(sensitive)","breaking":false})j") !=
        std::string::npos);
  CHECK(r.out.find(R"j("user":"admin")j") != std::string::npos);  // the others are shown

  r = a.dir.ochre({"explain", "pipeline.lua", "Db/main"}, env);
  no_secret(r);
  CHECK(r.out == "Db/main: UPDATE (changed: password)\n  password: (sensitive) -> (sensitive)\n");

  r = a.dir.ochre({"graph", "pipeline.lua", "--json"}, env);
  no_secret(r);

  r = a.dir.ochre({"run", "pipeline.lua"}, env);
  CHECK(r.code == 0);
  no_secret(r);
  for (const Rows& args : {Rows{"log"}, Rows{"log", "--json"}, Rows{"state", "list"}, Rows{"state", "list", "--json"}}) {
    r = a.dir.ochre(args);
    INFO(args[0]);
    CHECK(r.code == 0);
    no_secret(r);
  }
}

TEST_CASE("a sensitive breaking field: explain says it breaks, not what it was", "[e2e][secrets]") {
  TempDir dir;
  std::string text = pipeline;
  text.replace(text.find("breaks = { \"host\" }"), 19, "breaks = { \"password\" }");
  dir.write("pipeline.lua", text);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}, {{"PW", first}}).code == 0);
  auto r = dir.ochre({"explain", "pipeline.lua", "Db/main"}, {{"PW", second}});
  no_secret(r);
  CHECK(r.out.find("password: (sensitive) -> (sensitive)  [breaking]") != std::string::npos);
  r = dir.ochre({"run", "pipeline.lua"}, {{"PW", second}});
  CHECK(r.code == 0);
  no_secret(r);
  CHECK(e2e::find_row(e2e::plan_rows(r.out), "Db/main", "delete") != nullptr);
}

TEST_CASE("the REPL never shows a sensitive value: plan, explain, state, history", "[e2e][secrets][repl]") {
  Applied a;
  auto r = a.dir.run({"/bin/sh", "-c",
                      "printf ':plan\\n:explain Db/main\\n:state Db/main\\n:history Db/main\\n= 1 + 1\\n' | "
                      "\"$OCHRE\" repl pipeline.lua"},
                     {{"PW", second}});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  no_secret(r);
  CHECK(r.out.find("password: (sensitive) -> (sensitive)") != std::string::npos);
  CHECK(r.out.find("password = (sensitive)") != std::string::npos);
  CHECK(r.out.find("\n2\n") != std::string::npos);
}

TEST_CASE("state show and history mask sensitive values with the pipeline loaded (REPL) and "
          "without it",
          "[e2e][secrets]") {
  // Without the pipeline, the state's record of each instance's sensitive fields says
  // what to mask.
  Applied a;
  for (const Rows& args : {Rows{"state", "show", "Db/main"}, Rows{"state", "show", "Db/main", "--json"},
                           Rows{"history", "Db/main"}, Rows{"history", "Db/main", "--json"},
                           Rows{"state", "show", "App/web"}}) {
    auto r = a.dir.ochre(args);
    INFO(args[0] << " " << args[1]);
    CHECK(r.code == 0);
    no_secret(r);
    CHECK(r.out.find("t0k3n-value") == std::string::npos);
    CHECK(r.out.find("(sensitive)") != std::string::npos);
  }
}
