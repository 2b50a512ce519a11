// The walk-through of issue 2, each step a separate process as a user would run them:
// create, no-op, non-breaking update, breaking replace, destroy.
#include <catch2/catch.hpp>

#include "e2e/harness.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

std::string processor(const std::string& extra) {
  return R"(local ochre = require "ochre"

local MyProcessor = ochre.component "MyProcessor" {
  breaks = { "chunk_size", "model" },
  fields = { model = "some-model", chunk_size = 500, label = "test",
             my_subcomponent = ochre.required },
  create = function(self) print("CREATE " .. self.identifier) end,
  read   = function(self) end,
  update = function(self) print("UPDATE " .. self.identifier) end,
  delete = function(self) print("DELETE " .. self.identifier .. " chunk_size=" .. self.chunk_size) end,
}

return MyProcessor "test" { )" + extra + R"(my_subcomponent = ochre.Component "sub" }
)";
}

}  // namespace

TEST_CASE("walk-through: create, no-op, update, replace, destroy", "[e2e][walkthrough]") {
  TempDir dir;
  dir.write("pipeline.lua", processor(""));

  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("| 0 | CREATE     | Component/sub/009bfeff53633822.create") != std::string::npos);
  CHECK(r.out.find("| 1 | CREATE     | MyProcessor/test/3d5a194b731b4b68.create: deps\xe2\x86\x92" "0") !=
        std::string::npos);
  CHECK(count(r.out, "CREATE test") == 1);
  CHECK(dir.has_state());
  CHECK(dir.query("SELECT key, uuid, status FROM instances ORDER BY key") ==
        std::vector<std::string>{"Component/sub|009bfeff53633822|ok",
                                 "MyProcessor/test|3d5a194b731b4b68|ok"});

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "No changes needed \xe2\x80\x93 doing nothing!\n");

  dir.write("pipeline.lua", processor("label = \"other\", "));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "| UPDATE ") == 1);
  CHECK(r.out.find("MyProcessor/test/3d5a194b731b4b68.update") != std::string::npos);
  CHECK(count(r.out, "UPDATE test") == 1);
  CHECK(r.out.find("Component/sub") == std::string::npos);

  dir.write("pipeline.lua", processor("label = \"other\", chunk_size = 100, "));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("| 0 | DELETE     | MyProcessor/test/3d5a194b731b4b68.delete") != std::string::npos);
  CHECK(r.out.find("| 1 | CREATE     | MyProcessor/test/ede710a025a5cc4c.create: deps\xe2\x86\x92" "0") !=
        std::string::npos);
  // The delete hook sees the stored version: the old chunk_size.
  CHECK(r.out.find("DELETE test chunk_size=500") != std::string::npos);
  CHECK(r.out.find("DELETE test chunk_size=500") < r.out.find("CREATE test"));

  r = dir.ochre({"destroy", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto parent = r.out.find("| 0 | DELETE     | MyProcessor/test/ede710a025a5cc4c.delete");
  auto child = r.out.find("| 1 | DELETE     | Component/sub/009bfeff53633822.delete: deps\xe2\x86\x92" "0");
  CHECK(parent != std::string::npos);
  CHECK(child != std::string::npos);
  CHECK(dir.query("SELECT count(*) FROM instances") == std::vector<std::string>{"0"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "| CREATE ") == 2);
}

TEST_CASE("plan shows the plan and writes nothing", "[e2e][plan]") {
  TempDir dir;
  dir.write("pipeline.lua", processor(""));
  auto r = dir.ochre({"plan", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "| CREATE ") == 2);
  CHECK(r.out.find("CREATE test") == std::string::npos);
  CHECK_FALSE(dir.has_state());
}
