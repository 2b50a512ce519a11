// Inputs checked rather than taken silently (issue 22, findings 4 and 6): an unknown or
// wrong-typed ochre.sh option is an error at the caller's line; an empty --state, a
// fractional -j and a dangling state symlink are usage errors (exit 2) saying what to
// do; a 0-byte state file is a new state.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

const std::string simple = R"(local ochre = require "ochre"
local W = ochre.component "W" { fields = {} }
return W "a" {}
)";

}  // namespace

TEST_CASE("ochre.sh: an unknown or wrong-typed option fails at the caller's line",
          "[e2e][inputs]") {
  TempDir dir;
  auto [option, says] = GENERATE(table<std::string, std::string>({
      {"timout = 1", "ochre.sh: unknown option 'timout'"},
      {"quiet = 'yes'", "ochre.sh: quiet must be true or false"},
      {"[1] = 'x'", "ochre.sh: unknown option 'number'"},
  }));
  CAPTURE(option);
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local W = ochre.component "W" { fields = {}, create = function(self)
  ochre.sh("true", { )" + option + R"( })
end }
return W "a" {}
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(count(r.err, "pipeline.lua:3: " + says) == 1);
}

TEST_CASE("an empty --state, a fractional -j and a dangling state symlink exit 2 and say "
          "what to do",
          "[e2e][inputs][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", simple);
  auto empty = dir.ochre({"run", "pipeline.lua", "--state", ""});
  CHECK(empty.code == 2);
  CHECK(count(empty.err, "option --state needs a SQLite file or a postgres:// URL") == 1);
  CHECK_FALSE(dir.exists(".ochre"));
  for (std::string j : {"2.5", "0.5"}) {
    auto r = dir.ochre({"run", "pipeline.lua", "-j", j});
    CAPTURE(j);
    CHECK(r.code == 2);
    CHECK(count(r.err, "option -j takes a ") == 1);
  }
  REQUIRE(symlink((dir.path() + "/gone/state.db").c_str(), dir.file("link.db").c_str()) == 0);
  for (std::string cmd : {"plan", "run"}) {
    auto r = dir.ochre({cmd, "pipeline.lua", "--state", "link.db"});
    CAPTURE(cmd, r.out);
    CHECK(r.code == 2);
    CHECK(count(r.err, "a symbolic link to '" + dir.path() + "/gone/state.db', which does not exist") == 1);
  }
  CHECK_FALSE(dir.exists("gone"));
}

TEST_CASE("a 0-byte state file is a new state, for readers and writers", "[e2e][inputs][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", simple);
  dir.write("s.db", "");
  auto log = dir.ochre({"log", "--state", "s.db"});
  CHECK(log.code == 0);
  auto plan = dir.ochre({"plan", "pipeline.lua", "--state", "s.db"});
  CHECK(plan.code == 0);
  auto run = dir.ochre({"run", "pipeline.lua", "--state", "s.db"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(count(run.out, "1 done") == 1);
  CHECK(dir.query("SELECT key FROM instances", "s.db") == std::vector<std::string>{"W/a"});
}
