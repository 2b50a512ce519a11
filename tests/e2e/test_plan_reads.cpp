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
