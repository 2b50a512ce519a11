// A plan reads the state while the pipeline file runs (on a second thread); what it reads
// is used only if nothing was committed to the state in between.
#include <catch2/catch.hpp>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::plan_rows;
using e2e::TempDir;

namespace {

// Forgets Leaf/b through another ochre while the pipeline file runs, when FORGET is set.
const char* const pipeline = R"(local ochre = require "ochre"
local Leaf = ochre.component "Leaf" {
  fields = { v = 0 },
  create = function(self) print("create " .. self.identifier) end,
}
if os.getenv("FORGET") then
  assert(os.execute('"$OCHRE" state rm Leaf/b > /dev/null') == 0, "state rm failed")
end
return { Leaf "a" {}, Leaf "b" {}, Leaf "c" {} }
)";

}  // namespace

TEST_CASE("a state changed while the pipeline file runs is planned as it is then", "[e2e][plan]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(count(r.out, "] create ") == 3);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).out.find("No changes") != std::string::npos);

  r = dir.ochre({"plan", "pipeline.lua"}, {{"FORGET", "1"}});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Leaf/b");
  CHECK(rows[0].event == "CREATE");

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  REQUIRE(count(r.out, "] create b") == 1);

  // A run forgets it again while loading, and creates it again: nothing else runs.
  r = dir.ochre({"run", "pipeline.lua"}, {{"FORGET", "1"}});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "] create ") == 1);
  CHECK(count(r.out, "] create b") == 1);
  CHECK(dir.ochre({"run", "pipeline.lua"}).out.find("No changes") != std::string::npos);
}

// The walk of the instances starts before the state is read: every instance still gets
// its stored outputs, whether walked before the read (given afterwards), around a read
// hook (which needs them at once), or declared twice (an alias of one node).
TEST_CASE("stored outputs reach every instance however early the walk met it", "[e2e][plan][outputs]") {
  const std::string text = R"(local ochre = require "ochre"
local V = tonumber(os.getenv("V") or "1")
local Leaf = ochre.component "Leaf" {
  fields = { v = 0 },
  create = function(self) return { made = "leaf-" .. self.identifier } end,
  update = function(self) print("update " .. self.identifier .. " had " .. tostring(self.outputs.made)) end,
}
local Reader = ochre.component "Reader" {
  fields = { v = 0 },
  read = function(self) print("read " .. self.identifier .. " had " .. tostring(self.outputs.made)) end,
  create = function(self) return { made = "reader" } end,
  update = function(self) end,
}
local User = ochre.component "User" {
  fields = { dep = false, v = 0 },
  create = function(self) return { made = "user-" .. self.identifier } end,
  update = function(self)
    print("update " .. self.identifier .. " had " .. tostring(self.outputs.made)
          .. " dep had " .. tostring(self.dep.outputs.made))
  end,
}
-- Unchanged, so nothing the run does gives its outputs again: they come from the state.
local first = Leaf "x" { v = 1 }
local again = Leaf "x" { v = 1 }  -- the same instance declared twice: an alias
return {
  User "before" { dep = first, v = V },
  User "alias" { dep = again, v = V },
  User "outer" { dep = Reader "r" { v = V }, v = V },
}
)";
  TempDir dir;
  dir.write("pipeline.lua", text);
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "read r had nil") == 1);

  r = dir.ochre({"run", "pipeline.lua"}, {{"V", "2"}});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "read r had reader") == 1);
  CHECK(count(r.out, "update x ") == 0);
  CHECK(count(r.out, "update before had user-before dep had leaf-x") == 1);
  CHECK(count(r.out, "update outer had user-outer dep had reader") == 1);
  CHECK(count(r.out, "update alias had user-alias dep had leaf-x") == 1);
}
