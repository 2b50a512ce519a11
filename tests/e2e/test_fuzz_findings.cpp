// Regressions for what the fuzzers found (tests/fuzz), through the binary.
#include <catch2/catch.hpp>

#include "e2e/harness.hpp"

using e2e::TempDir;

TEST_CASE("fuzz_canonical: a field holding 1e-05 or 1e+22 is applied and read back",
          "[e2e][fuzz]") {
  // Today the second run fails: "state '(value)': damaged value encoding at byte 26"
  // (see tests/unit/test_fuzz_findings.cpp).
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { small = 0, big = 0 } }
return Model "m" { small = 1e-5, big = 1e22 }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  r = dir.ochre({"state", "show", "Model/m"});
  CHECK(r.code == 0);
  CHECK(r.out.find("small = 1e-05") != std::string::npos);
}
