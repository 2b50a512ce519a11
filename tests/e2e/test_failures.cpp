// Hook failures: the failed job, its skipped dependents and the independent jobs that
// still run; retries on the next run; and the journal that records all of it.
#include <catch2/catch.hpp>

#include <cstdio>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::subst;
using e2e::find_row;
using e2e::in_order;
using e2e::plan_rows;
using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

// Step's create and update fail when v is 13.
const std::string step_type = R"(local ochre = require "ochre"
local Step = ochre.component "Step" {
  fields = { dep = false, v = 1 },
  create = function(self)
    print("CREATE " .. tostring(self) .. " v=" .. self.v)
    if self.v == 13 then error("unlucky create " .. self.v) end  -- CREATE FAILS
    return { v = self.v }
  end,
  update = function(self, old)
    print("UPDATE " .. tostring(self) .. " v=" .. old.v .. "->" .. self.v)
    if self.v == 13 then error("unlucky update " .. self.v) end  -- UPDATE FAILS
  end,
  delete = function(self) print("DELETE " .. tostring(self) .. " v=" .. self.v) end,
}
)";

std::string at_line(const char* marker) {
  return "pipeline.lua:" + std::to_string(e2e::line_of(step_type, marker)) + ":";
}

// bad <- dependent <- grand, and other on its own.
std::string chain(int bad_v) {
  return step_type + subst(R"(
local bad = Step "bad" { v = {{V}} }
local dependent = Step "dependent" { dep = bad }
local grand = Step "grand" { dep = dependent }
local other = Step "other" {}
return { grand, other }
)", "V", std::to_string(bad_v));
}

}  // namespace

TEST_CASE("a failing hook fails its job, skips its dependents, lets the rest run, the next "
          "run retries",
          "[e2e][failures]") {
  TempDir dir;
  dir.write("pipeline.lua", chain(13));
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);

  std::string line = e2e::first_line(r.err);
  CHECK(line.rfind("error: Step/bad: create failed: ", 0) == 0);
  CHECK(line.find(at_line("-- CREATE FAILS") + " unlucky create 13") != std::string::npos);
  CHECK(r.err.find("stack traceback") != std::string::npos);
  CHECK(count(r.err, "skipped: Step/dependent") == 1);
  CHECK(count(r.err, "skipped: Step/grand") == 1);
  CHECK(count(r.out, "CREATE Step/bad v=13\n") == 1);
  CHECK(count(r.out, "CREATE Step/other v=1\n") == 1);
  CHECK(r.out.find("CREATE Step/dependent") == std::string::npos);
  CHECK(r.out.find("CREATE Step/grand") == std::string::npos);

  CHECK(dir.query("SELECT key, action, outcome FROM jobs ORDER BY key") ==
        Rows{"Step/bad|create|failed", "Step/dependent|create|skipped", "Step/grand|create|skipped",
             "Step/other|create|done"});
  CHECK(dir.query("SELECT error FROM jobs WHERE key = 'Step/dependent'")[0].find("Step/bad") !=
        std::string::npos);
  CHECK(dir.query("SELECT error FROM jobs WHERE key = 'Step/grand'")[0].find("Step/dependent") !=
        std::string::npos);
  // What ran is in the state; what failed is marked so; what never ran is not there.
  CHECK(dir.query("SELECT key, status, action FROM instances ORDER BY key") ==
        Rows{"Step/bad|failed|create", "Step/other|ok|create"});
  CHECK(dir.query("SELECT error FROM instances WHERE key = 'Step/bad'")[0].find("unlucky create 13") !=
        std::string::npos);

  // Fixed: the failed job is retried and the skipped ones run; the done one does not.
  dir.write("pipeline.lua", chain(1));
  r = dir.ochre({"plan", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  CHECK(find_row(rows, "Step/bad", "create"));
  CHECK(find_row(rows, "Step/dependent", "create"));
  CHECK(find_row(rows, "Step/grand", "create"));

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(in_order(r.out, {"CREATE Step/bad v=1\n", "CREATE Step/dependent v=1\n", "CREATE Step/grand v=1\n"}));
  CHECK(r.out.find("Step/other") == std::string::npos);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") ==
        Rows{"Step/bad|ok", "Step/dependent|ok", "Step/grand|ok", "Step/other|ok"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("a failed UPDATE is retried even when the file is reverted to what was applied",
          "[e2e][failures][retry]") {
  auto text = [](int v) {
    return step_type + subst(R"(
return Step "top" { dep = Step "s" { v = {{V}} } }
)", "V", std::to_string(v));
  };
  TempDir dir;
  dir.write("pipeline.lua", text(1));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  std::string applied_hash = dir.query("SELECT hash FROM instances WHERE key = 'Step/s'")[0];

  dir.write("pipeline.lua", text(13));
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(e2e::first_line(r.err).rfind("error: Step/s: update failed: ", 0) == 0);
  CHECK(e2e::first_line(r.err).find(at_line("-- UPDATE FAILS")) != std::string::npos);
  CHECK(count(r.err, "skipped: Step/top") == 1);
  CHECK(count(r.out, "UPDATE Step/s v=1->13\n") == 1);
  CHECK(dir.query("SELECT status, action FROM instances WHERE key = 'Step/s'") == Rows{"failed|update"});

  // Back to the applied fields: the hash matches the state, but the failure is not forgotten.
  dir.write("pipeline.lua", text(1));
  r = dir.ochre({"plan", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out != no_changes);
  auto rows = plan_rows(r.out);
  REQUIRE_FALSE(rows.empty());
  CHECK(find_row(rows, "Step/s", "update"));

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "UPDATE Step/s v=1->1\n") == 1);
  CHECK(dir.query("SELECT status, hash FROM instances WHERE key = 'Step/s'") ==
        Rows{"ok|" + applied_hash});
  CHECK(dir.query("SELECT status FROM instances WHERE key = 'Step/top'") == Rows{"ok"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("a failed CREATE of something then removed from the pipeline is deleted",
          "[e2e][failures][orphans]") {
  TempDir dir;
  dir.write("pipeline.lua", step_type + R"(
return { Step "bad" { v = 13 }, Step "other" {} }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 1);
  REQUIRE(dir.query("SELECT key, status FROM instances ORDER BY key") ==
          Rows{"Step/bad|failed", "Step/other|ok"});

  // It may have half-created something: delete it, with the fields it was attempted with.
  dir.write("pipeline.lua", step_type + R"(
return { Step "other" {} }
)");
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Step/bad");
  CHECK(rows[0].method == "delete");
  CHECK(count(r.out, "DELETE Step/bad v=13\n") == 1);
  CHECK(dir.query("SELECT key FROM instances") == Rows{"Step/other"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("the journal records runs, job outcomes, errors and captured output",
          "[e2e][failures][journal]") {
  TempDir dir;
  dir.write("pipeline.lua", chain(13));
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 1);

  auto runs = dir.query("SELECT id, command, outcome, ended IS NOT NULL, pid > 0 FROM runs");
  CHECK(runs == Rows{"1|apply|failed|1|1"});
  auto source = dir.query("SELECT source FROM runs")[0];
  CHECK(source.size() >= 12);
  CHECK(source.substr(source.size() - 12) == "pipeline.lua");
  auto summary = dir.query("SELECT summary FROM runs")[0];
  CHECK(summary.find("1 done") != std::string::npos);
  CHECK(summary.find("1 failed") != std::string::npos);
  CHECK(summary.find("2 skipped") != std::string::npos);

  // Each job: its outcome, its error, and exactly what its hook printed.
  CHECK(dir.query("SELECT output, error FROM jobs WHERE key = 'Step/other'") ==
        Rows{"CREATE Step/other v=1\n|"});
  CHECK(dir.query("SELECT output FROM jobs WHERE key = 'Step/bad'") == Rows{"CREATE Step/bad v=13\n"});
  auto bad_error = dir.query("SELECT error FROM jobs WHERE key = 'Step/bad'")[0];
  CHECK(bad_error.find(at_line("-- CREATE FAILS") + " unlucky create 13") != std::string::npos);
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE outcome IN ('done', 'failed') AND "
                  "(started IS NULL OR ended IS NULL)") == Rows{"0"});
  CHECK(dir.query("SELECT output FROM jobs WHERE outcome = 'skipped'") == Rows{"", ""});
  // Only finished work becomes a version.
  CHECK(dir.query("SELECT key, action FROM versions") == Rows{"Step/other|create"});

  dir.write("pipeline.lua", chain(1));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(dir.query("SELECT id, outcome FROM runs ORDER BY id") == Rows{"1|failed", "2|done"});
  CHECK(dir.query("SELECT key, outcome FROM jobs WHERE run = 2 ORDER BY seq") ==
        Rows{"Step/bad|done", "Step/dependent|done", "Step/grand|done"});
  CHECK(dir.query("SELECT output FROM jobs WHERE run = 2 AND key = 'Step/grand'") ==
        Rows{"CREATE Step/grand v=1\n"});
  CHECK(dir.query("SELECT count(*) FROM versions") == Rows{"4"});

  // destroy is journalled too.
  r = dir.ochre({"destroy", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(dir.query("SELECT command, outcome FROM runs WHERE id = 3") == Rows{"destroy|done"});
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE run = 3 AND action = 'delete' AND outcome = 'done'") ==
        Rows{"4"});
  CHECK(dir.query("SELECT output FROM jobs WHERE run = 3 AND key = 'Step/bad'") == Rows{"DELETE Step/bad v=1\n"});
  CHECK(dir.query("SELECT count(*) FROM instances") == Rows{"0"});
}

TEST_CASE("a failed DELETE of a removed component is retried, and what waited for it runs",
          "[e2e][failures][retry]") {
  std::string text = std::string(e2e::printing_prelude) + R"(
local function denied() local f = io.open("{{DENY}}") if f then f:close() return true end end
local Leaf = T("Leaf", {})
local Mid = T("Mid", {
  fields = { child = ochre.required },
  delete = function(self)
    print("DELETE " .. tostring(self))
    if denied() then error("cannot delete yet") end
  end,
})
local Top = T("Top", { fields = { uses = false } })
{{BODY}}
)";
  text = subst(text, "DENY", "deny");
  TempDir dir;
  dir.write("pipeline.lua", subst(text, "BODY", R"(return Top "top" { uses = Mid "mid" { child = Leaf "leaf" {} } })"));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);

  dir.write("pipeline.lua", subst(text, "BODY", R"(return Top "top" {})"));
  dir.write("deny", "");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(e2e::first_line(r.err).rfind("error: Mid/mid: delete failed: ", 0) == 0);
  CHECK(count(r.err, "skipped: Leaf/leaf") == 1);
  CHECK(count(r.out, "] DELETE Mid/mid\n") == 1);
  CHECK(r.out.find("] DELETE Leaf/leaf") == std::string::npos);
  CHECK(dir.query("SELECT key, status, action FROM instances ORDER BY key") ==
        Rows{"Leaf/leaf|ok|create", "Mid/mid|failed|delete", "Top/top|ok|update"});

  // Nothing changed in the file; the failed delete and the skipped one are still owed.
  std::remove(dir.file("deny").c_str());
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(find_row(rows, "Mid/mid", "delete"));
  CHECK(find_row(rows, "Leaf/leaf", "delete"));
  CHECK(in_order(r.out, {"] DELETE Mid/mid\n", "] DELETE Leaf/leaf\n"}));
  CHECK(dir.query("SELECT key FROM instances") == Rows{"Top/top"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}
