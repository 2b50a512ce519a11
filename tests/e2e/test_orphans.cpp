// What happens to instances the pipeline no longer holds: removed ones are deleted in the
// right order, a state shared by two pipelines keeps what the other still uses, destroy
// of one key takes its dependents only, and a vanished type is a clear error.
#include <catch2/catch.hpp>

#include <filesystem>

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

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

Rows keys(const TempDir& dir, const std::string& db = ".ochre/state.db") {
  return dir.query("SELECT key FROM instances ORDER BY key", db);
}

}  // namespace

TEST_CASE("a removed component is deleted with its stored fields, after its former user "
          "stopped using it and before its own sub-components",
          "[e2e][orphans]") {
  std::string text = std::string(e2e::printing_prelude) + R"(
local Leaf = T("Leaf", {
  fields = { colour = "green" },
  delete = function(self) print("DELETE " .. tostring(self) .. " colour=" .. self.colour) end,
})
local Mid = T("Mid", {
  fields = { child = ochre.required, size = 1 },
  delete = function(self)
    print("DELETE " .. tostring(self) .. " size=" .. self.size .. " child=" .. tostring(self.child))
  end,
})
local Top = T("Top", {
  fields = { uses = false },
  update = function(self, old) print("UPDATE " .. tostring(self) .. " uses=" .. tostring(self.uses)) end,
})
{{BODY}}
)";
  TempDir dir;
  dir.write("pipeline.lua",
            subst(text, "BODY", R"(return Top "top" { uses = Mid "mid" { child = Leaf "leaf" { colour = "red" }, size = 7 } })"));
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  REQUIRE(keys(dir) == Rows{"Leaf/leaf", "Mid/mid", "Top/top"});

  dir.write("pipeline.lua", subst(text, "BODY", R"(return Top "top" { uses = "nothing" })"));
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  auto top = find_row(rows, "Top/top", "update");
  auto mid = find_row(rows, "Mid/mid", "delete");
  auto leaf = find_row(rows, "Leaf/leaf", "delete");
  REQUIRE(top);
  REQUIRE(mid);
  REQUIRE(leaf);
  CHECK(contains(mid->deps, top->index));
  CHECK(contains(leaf->deps, mid->index));
  // The delete hooks see what was applied, not defaults.
  CHECK(in_order(r.out, {"UPDATE Top/top uses=nothing\n", "DELETE Mid/mid size=7 child=Leaf/leaf\n",
                         "DELETE Leaf/leaf colour=red\n"}));
  CHECK(count(r.out, "] DELETE ") == 2);
  CHECK(keys(dir) == Rows{"Top/top"});
  CHECK(dir.query("SELECT key, action, outcome FROM jobs WHERE run = 2 ORDER BY seq") ==
        Rows{"Top/top|update|done", "Mid/mid|delete|done", "Leaf/leaf|delete|done"});

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("two pipelines sharing one state and one child", "[e2e][orphans][shared]") {
  auto pipeline = [](const std::string& type, const std::string& id) {
    return subst(subst(std::string(e2e::printing_prelude) + R"(
local Shared = T("Shared", { fields = { size = 3 } })
local {{TYPE}} = T("{{TYPE}}", { fields = { child = ochre.required } })
return {{TYPE}} "{{ID}}" { child = Shared "s" { size = 3 } }
)", "TYPE", type), "ID", id);
  };
  TempDir dir;
  dir.write("a.lua", pipeline("A", "a"));
  dir.write("b.lua", pipeline("B", "b"));
  const std::string db = "shared.db";

  auto r = dir.ochre({"run", "a.lua", "--state", db});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "CREATE Shared/s\n") == 1);
  CHECK(count(r.out, "CREATE A/a\n") == 1);
  CHECK_FALSE(dir.has_state());

  // The second pipeline reuses the shared child and leaves the first one's root alone.
  r = dir.ochre({"run", "b.lua", "--state", db});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "B/b");
  CHECK(rows[0].method == "create");
  CHECK(rows[0].deps.empty());
  CHECK(r.out.find("Shared/s") == std::string::npos);
  CHECK(r.out.find("DELETE") == std::string::npos);
  CHECK(keys(dir, db) == Rows{"A/a", "B/b", "Shared/s"});
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE key = 'Shared/s'", db) == Rows{"1"});
  CHECK(dir.query("SELECT count(DISTINCT source) FROM roots", db) == Rows{"2"});

  // Neither pipeline sees the other's instances as removed.
  r = dir.ochre({"run", "a.lua", "--state", db});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);
  r = dir.ochre({"run", "b.lua", "--state", db});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);

  // Destroying the second pipeline keeps the child the first still uses.
  r = dir.ochre({"destroy", "b.lua", "--state", db});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "B/b");
  CHECK(rows[0].method == "delete");
  CHECK(count(r.out, "DELETE B/b\n") == 1);
  CHECK(r.out.find("DELETE Shared/s") == std::string::npos);
  CHECK(r.out.find("DELETE A/a") == std::string::npos);
  CHECK(keys(dir, db) == Rows{"A/a", "Shared/s"});

  r = dir.ochre({"run", "a.lua", "--state", db});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);

  // Once nobody else uses it, destroying the first pipeline takes the child too.
  r = dir.ochre({"destroy", "a.lua", "--state", db});
  REQUIRE(r.code == 0);
  CHECK(in_order(r.out, {"DELETE A/a\n", "DELETE Shared/s\n"}));
  CHECK(keys(dir, db).empty());
  CHECK_FALSE(dir.has_state());
}

TEST_CASE("destroy FILE KEY deletes KEY and what depends on it, nothing else",
          "[e2e][orphans][destroy]") {
  TempDir dir;
  dir.write("pipeline.lua", std::string(e2e::printing_prelude) + R"(
local Download = T("Download", { fields = { url = "http://example.org/img.png" } })
local Blur = T("Blur", { fields = { src = ochre.required, radius = 2 } })
local Edge = T("Edge", { fields = { src = ochre.required } })
local Collage = T("Collage", { fields = { a = ochre.required, b = ochre.required } })
local img = Download "img" {}
return Collage "collage" { a = Blur "blur" { src = img }, b = Edge "edge" { src = img } }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);

  r = dir.ochre({"destroy", "pipeline.lua", "Blur/blur"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  auto collage = find_row(rows, "Collage/collage", "delete");
  auto blur = find_row(rows, "Blur/blur", "delete");
  REQUIRE(collage);
  REQUIRE(blur);
  CHECK(contains(blur->deps, collage->index));
  CHECK(in_order(r.out, {"DELETE Collage/collage\n", "DELETE Blur/blur\n"}));
  CHECK(count(r.out, "] DELETE ") == 2);
  CHECK(keys(dir) == Rows{"Download/img", "Edge/edge"});

  // The next run brings back exactly what was destroyed.
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(find_row(rows, "Blur/blur", "create"));
  CHECK(find_row(rows, "Collage/collage", "create"));
  CHECK(in_order(r.out, {"CREATE Blur/blur\n", "CREATE Collage/collage\n"}));
  CHECK(keys(dir) == Rows{"Blur/blur", "Collage/collage", "Download/img", "Edge/edge"});

  // A key the state does not hold is a usage error that changes nothing.
  std::string before = dir.state_bytes();
  r = dir.ochre({"destroy", "pipeline.lua", "Nope/x"});
  CHECK(r.code == 2);
  CHECK(e2e::first_line(r.err).find("Nope/x") != std::string::npos);
  CHECK(r.out.find("DELETE ") == std::string::npos);
  CHECK((dir.state_bytes() == before));
}

TEST_CASE("a type whose definition vanished while instances remain is an error naming "
          "'ochre state rm'",
          "[e2e][orphans][type-gone]") {
  std::string top = std::string(e2e::printing_prelude) + R"(
local Top = T("Top", { fields = { uses = false } })
)";
  TempDir dir;
  dir.write("pipeline.lua", top + R"(
local Old = T("Old", { fields = { v = 1 } })
return Top "top" { uses = Old "o" {} }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  std::string before = dir.state_bytes();
  std::string before_wal = dir.bytes(".ochre/state.db-wal");

  dir.write("pipeline.lua", top + R"(
return Top "top" {}
)");
  for (const char* command : {"run", "plan", "destroy"}) {
    r = dir.ochre({command, "pipeline.lua"});
    INFO(command << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(count(r.err, "\n") == 1);
    std::string line = e2e::first_line(r.err);
    CHECK(line.rfind("error: ", 0) == 0);
    CHECK(line.find("ochre state rm") != std::string::npos);
    CHECK(line.find("Old/o") != std::string::npos);
    CHECK(line.find("'Old'") != std::string::npos);
    CHECK(r.out.find("UPDATE Top/top") == std::string::npos);
    CHECK(r.out.find("DELETE") == std::string::npos);
    CHECK((dir.state_bytes() == before));
    CHECK((dir.bytes(".ochre/state.db-wal") == before_wal));
  }
  CHECK(keys(dir) == Rows{"Old/o", "Top/top"});
}

TEST_CASE("an instance's own files (self:path) go with it: a destroy removes its directory, "
          "also one its delete hook made after deletions that found no files at all",
          "[e2e][orphans][files]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(
local ochre = require "ochre"
local Keeper = ochre.component "Keeper" {
  fields = { n = 0 },
  create = function(self) ochre.fs.write(self:path "made", "x") end,
}
return Keeper "k" {}
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(dir.exists(".ochre/files/Keeper/k/made"));
  r = dir.ochre({"destroy", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK_FALSE(dir.exists(".ochre/files/Keeper/k"));

  // No instance has files when the destroy starts; the hook-less deletions of the users
  // run first, then the one whose delete hook writes a file of its own.
  dir.write("late.lua", R"(
local ochre = require "ochre"
local Late = ochre.component "Late" {
  fields = { n = 0 },
  delete = function(self) ochre.fs.write(self:path "note", "bye") end,
}
local User = ochre.component "User" { fields = { uses = ochre.required } }
local late = Late "l" {}
return { User "u1" { uses = late }, User "u2" { uses = late }, User "u3" { uses = late } }
)");
  std::filesystem::remove_all(dir.file(".ochre/files"));
  r = dir.ochre({"run", "late.lua", "--state", "late.db"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE_FALSE(dir.exists("files"));
  r = dir.ochre({"destroy", "late.lua", "--state", "late.db", "-j", "1"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "4 done") == 1);
  CHECK(dir.exists("files/Late"));  // made by the hook
  CHECK_FALSE(dir.exists("files/Late/l"));
}
