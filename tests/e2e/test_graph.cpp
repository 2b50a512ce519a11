// The graph end to end: a diamond is one node per instance, a change re-runs only what
// depends on it, outputs flow from sub-components to their users, read() makes the
// world part of the hash, duplicates are caught, and plan --json exports everything.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::subst;
using e2e::find_row;
using e2e::in_order;
using e2e::plan_rows;
using e2e::TempDir;
using json = nlohmann::json;
using Rows = std::vector<std::string>;

namespace {

const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

// download -> blur, download -> edge, (blur, edge) -> collage; one Download instance.
std::string diamond(const std::string& collage_breaks, int radius, const std::string& label) {
  std::string text = std::string(e2e::printing_prelude) + R"(
local Download = T("Download", { fields = { url = "http://example.org/img.png" } })
local Blur = T("Blur", { breaks = { "radius" }, fields = { src = ochre.required, radius = 2, label = "blur" } })
local Edge = T("Edge", { fields = { src = ochre.required, threshold = 5 } })
local Collage = T("Collage", { breaks = {{BREAKS}}, fields = { a = ochre.required, b = ochre.required } })
local img = Download "img" {}
local blur = Blur "blur" { src = img, radius = {{RADIUS}}, label = "{{LABEL}}" }
local edge = Edge "edge" { src = img }
return Collage "collage" { a = blur, b = edge }
)";
  text = subst(text, "BREAKS", collage_breaks);
  text = subst(text, "RADIUS", std::to_string(radius));
  return subst(text, "LABEL", label);
}

// The keys of the jobs the last run recorded, sorted.
Rows last_run_keys(const TempDir& dir) {
  return dir.query("SELECT DISTINCT key FROM jobs WHERE run = (SELECT max(id) FROM runs) ORDER BY key");
}

std::string uuid_of(const TempDir& dir, const std::string& key) {
  auto rows = dir.query("SELECT uuid FROM instances WHERE key = '" + key + "'");
  return rows.empty() ? std::string() : rows[0];
}

std::string hash_of(const TempDir& dir, const std::string& key) {
  auto rows = dir.query("SELECT hash FROM instances WHERE key = '" + key + "'");
  return rows.empty() ? std::string() : rows[0];
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("a diamond: the shared download is one node and one job, jobs follow deps",
          "[e2e][graph][diamond]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond("{}", 2, "blur"));
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);

  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 4);
  auto dl = find_row(rows, "Download/img", "create");
  auto blur = find_row(rows, "Blur/blur", "create");
  auto edge = find_row(rows, "Edge/edge", "create");
  auto collage = find_row(rows, "Collage/collage", "create");
  REQUIRE(dl);
  REQUIRE(blur);
  REQUIRE(edge);
  REQUIRE(collage);
  CHECK(dl->deps.empty());
  CHECK(blur->deps == std::vector<int>{dl->index});
  CHECK(edge->deps == std::vector<int>{dl->index});
  CHECK(contains(collage->deps, blur->index));
  CHECK(contains(collage->deps, edge->index));
  for (const auto& row : rows)
    for (int d : row.deps) CHECK(d < row.index);

  // Each hook ran once, each after the hooks of its sub-components.
  CHECK(count(r.out, "CREATE Download/img\n") == 1);
  CHECK(count(r.out, "CREATE Blur/blur\n") == 1);
  CHECK(count(r.out, "CREATE Edge/edge\n") == 1);
  CHECK(count(r.out, "CREATE Collage/collage\n") == 1);
  CHECK(in_order(r.out, {"CREATE Download/img\n", "CREATE Blur/blur\n", "CREATE Collage/collage\n"}));
  CHECK(in_order(r.out, {"CREATE Download/img\n", "CREATE Edge/edge\n", "CREATE Collage/collage\n"}));

  CHECK(dir.query("SELECT key, status, action FROM instances ORDER BY key") ==
        Rows{"Blur/blur|ok|create", "Collage/collage|ok|create", "Download/img|ok|create",
             "Edge/edge|ok|create"});
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE key = 'Download/img'") == Rows{"1"});
  // The journal keeps the order the jobs ran in.
  auto journal = dir.query("SELECT key, outcome FROM jobs ORDER BY seq");
  REQUIRE(journal.size() == 4);
  CHECK(journal.front() == "Download/img|done");
  CHECK(journal.back() == "Collage/collage|done");

  // Two dependents, one dependency: the JSON export agrees.
  r = dir.ochre({"plan", "pipeline.lua", "--json"});
  REQUIRE(r.code == 0);
  auto plan = json::parse(r.out);
  CHECK(plan["jobs"].empty());
  REQUIRE(plan["nodes"].size() == 4);
  for (const auto& node : plan["nodes"]) {
    if (node["key"] == "Download/img") CHECK(node["deps"].empty());
    if (node["key"] == "Blur/blur") CHECK(node["deps"] == json::array({"Download/img"}));
    if (node["key"] == "Edge/edge") CHECK(node["deps"] == json::array({"Download/img"}));
    if (node["key"] == "Collage/collage") {
      std::set<std::string> deps(node["deps"].begin(), node["deps"].end());
      CHECK(deps == std::set<std::string>{"Blur/blur", "Edge/edge"});
    }
  }

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("a diamond: changing blur re-runs only blur and collage", "[e2e][graph][diamond]") {
  TempDir dir;
  std::string breaks, label = "blur";
  int radius = 2;
  bool collage_replaced = false, blur_replaced = false;

  SECTION("a non-breaking change to blur updates collage, even when collage breaks on it") {
    breaks = "{ \"a\" }";
    label = "soft";
  }
  SECTION("a breaking change to blur updates collage when collage does not break on it") {
    breaks = "{}";
    radius = 3;
    blur_replaced = true;
  }
  SECTION("a breaking change to blur replaces collage when collage breaks on it") {
    breaks = "{ \"a\" }";
    radius = 3;
    blur_replaced = collage_replaced = true;
  }

  dir.write("pipeline.lua", diamond(breaks, 2, "blur"));
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  std::string collage_uuid = uuid_of(dir, "Collage/collage");
  std::string collage_hash = hash_of(dir, "Collage/collage");
  std::string blur_uuid = uuid_of(dir, "Blur/blur");
  std::string download_hash = hash_of(dir, "Download/img");
  std::string edge_hash = hash_of(dir, "Edge/edge");

  dir.write("pipeline.lua", diamond(breaks, radius, label));
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);

  // Nothing of the untouched branch runs.
  CHECK(r.out.find("Download/img") == std::string::npos);
  CHECK(r.out.find("Edge/edge") == std::string::npos);

  if (!blur_replaced) {
    REQUIRE(rows.size() == 2);
    auto blur = find_row(rows, "Blur/blur", "update");
    auto collage = find_row(rows, "Collage/collage", "update");
    REQUIRE(blur);
    REQUIRE(collage);
    CHECK(rows[blur->index].event == "UPDATE");
    CHECK(collage->deps == std::vector<int>{blur->index});
    CHECK(in_order(r.out, {"UPDATE Blur/blur\n", "UPDATE Collage/collage\n"}));
    CHECK(count(r.out, "] UPDATE ") == 2);
    CHECK(r.out.find("CREATE ") == std::string::npos);
    CHECK(r.out.find("DELETE ") == std::string::npos);
    CHECK(uuid_of(dir, "Blur/blur") == blur_uuid);
  } else if (!collage_replaced) {
    REQUIRE(rows.size() == 3);
    auto del = find_row(rows, "Blur/blur", "delete");
    auto create = find_row(rows, "Blur/blur", "create");
    auto collage = find_row(rows, "Collage/collage", "update");
    REQUIRE(del);
    REQUIRE(create);
    REQUIRE(collage);
    CHECK(contains(create->deps, del->index));
    CHECK(contains(collage->deps, create->index));
    CHECK(in_order(r.out, {"DELETE Blur/blur\n", "CREATE Blur/blur\n", "UPDATE Collage/collage\n"}));
    CHECK(r.out.find("CREATE Collage/collage\n") == std::string::npos);
    CHECK(r.out.find("DELETE Collage/collage\n") == std::string::npos);
    CHECK(uuid_of(dir, "Blur/blur") != blur_uuid);
  } else {
    REQUIRE(rows.size() == 4);
    auto del_collage = find_row(rows, "Collage/collage", "delete");
    auto del_blur = find_row(rows, "Blur/blur", "delete");
    auto create_blur = find_row(rows, "Blur/blur", "create");
    auto create_collage = find_row(rows, "Collage/collage", "create");
    REQUIRE(del_collage);
    REQUIRE(del_blur);
    REQUIRE(create_blur);
    REQUIRE(create_collage);
    // The old collage goes before the old blur it used; the new blur before the new collage.
    CHECK(contains(del_blur->deps, del_collage->index));
    CHECK(contains(create_blur->deps, del_blur->index));
    CHECK(contains(create_collage->deps, create_blur->index));
    CHECK(contains(create_collage->deps, del_collage->index));
    CHECK(in_order(r.out, {"DELETE Collage/collage\n", "DELETE Blur/blur\n", "CREATE Blur/blur\n",
                           "CREATE Collage/collage\n"}));
    CHECK(r.out.find("UPDATE ") == std::string::npos);
  }

  CHECK(last_run_keys(dir) == Rows{"Blur/blur", "Collage/collage"});
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE run = (SELECT max(id) FROM runs) AND outcome <> 'done'") ==
        Rows{"0"});
  CHECK(dir.query("SELECT count(*) FROM instances WHERE status = 'ok'") == Rows{"4"});
  CHECK((uuid_of(dir, "Collage/collage") != collage_uuid) == collage_replaced);
  CHECK(hash_of(dir, "Collage/collage") != collage_hash);
  CHECK(hash_of(dir, "Download/img") == download_hash);
  CHECK(hash_of(dir, "Edge/edge") == edge_hash);

  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("outputs: a user reads what its sub-component's create returned", "[e2e][graph][outputs]") {
  const std::string text = R"(local ochre = require "ochre"
local Source = ochre.component "Source" {
  fields = { n = 1 },
  create = function(self) print("Source create n=" .. self.n) return { n = self.n * 10 } end,
  update = function(self, old) print("Source update n=" .. self.n) return { n = self.n * 10 } end,
}
local Sink = ochre.component "Sink" {
  fields = { src = ochre.required, tag = "a" },
  create = function(self) print("Sink create saw " .. tostring(self.src.outputs.n)) end,
  update = function(self, old) print("Sink update saw " .. tostring(self.src.outputs.n)) end,
}
return Sink "sink" { src = Source "src" { n = {{N}} }, tag = "{{TAG}}" }
)";
  TempDir dir;
  dir.write("pipeline.lua", subst(subst(text, "N", "4"), "TAG", "a"));
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(in_order(r.out, {"Source create n=4\n", "Sink create saw 40\n"}));

  // Only the user changes: the outputs come from the state, stored by the first run.
  dir.write("pipeline.lua", subst(subst(text, "N", "4"), "TAG", "b"));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Sink/sink");
  CHECK(rows[0].method == "update");
  CHECK(r.out.find("Source ") == std::string::npos);
  CHECK(count(r.out, "Sink update saw 40\n") == 1);

  // The source changes: its new outputs reach the user in the same run.
  dir.write("pipeline.lua", subst(subst(text, "N", "5"), "TAG", "b"));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(in_order(r.out, {"Source update n=5\n", "Sink update saw 50\n"}));
  CHECK(dir.query("SELECT count(*) FROM versions WHERE key = 'Source/src'") == Rows{"2"});
  CHECK(dir.query("SELECT count(*) FROM versions WHERE key = 'Sink/sink'") == Rows{"3"});

  dir.write("pipeline.lua", subst(subst(text, "N", "5"), "TAG", "c"));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "Sink update saw 50\n") == 1);
}

TEST_CASE("read() sets fields from the world: a changed file plans an UPDATE or a REPLACE",
          "[e2e][graph][read]") {
  TempDir dir;
  std::string text = std::string(e2e::printing_prelude) + R"(
local Watched = T("Watched", {
  breaks = { "format" },
  fields = { path = ochre.required, content = "", format = "" },
  read = function(self)
    local f = assert(io.open(self.path, "rb"))
    self.content = f:read("*a")
    f:close()
    local g = io.open(self.path .. ".format", "rb")
    if g then self.format = g:read("*a") g:close() end
  end,
  update = function(self, old)
    print("UPDATE " .. tostring(self) .. " " .. old.content .. " -> " .. self.content)
  end,
  delete = function(self) print("DELETE " .. tostring(self) .. " format=" .. self.format) end,
})
return Watched "w" { path = "{{PATH}}" }
)";
  dir.write("pipeline.lua", subst(text, "PATH", dir.file("data.txt")));
  dir.write("data.txt", "one");
  dir.write("data.txt.format", "csv");

  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "CREATE Watched/w\n") == 1);
  std::string uuid = uuid_of(dir, "Watched/w");

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);

  // The world changed, the pipeline did not: a non-breaking field read from it.
  dir.write("data.txt", "two");
  r = dir.ochre({"plan", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].event == "UPDATE");
  CHECK(rows[0].key == "Watched/w");
  CHECK(rows[0].uuid == uuid);
  r = dir.ochre({"explain", "pipeline.lua", "Watched/w"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("content") != std::string::npos);
  CHECK(r.out.find("two") != std::string::npos);

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "UPDATE Watched/w one -> two\n") == 1);
  CHECK(uuid_of(dir, "Watched/w") == uuid);
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);

  // A breaking field read from the world: replace, the delete seeing the old value.
  dir.write("data.txt.format", "json");
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(find_row(rows, "Watched/w", "delete"));
  CHECK(find_row(rows, "Watched/w", "create"));
  CHECK(in_order(r.out, {"DELETE Watched/w format=csv\n", "CREATE Watched/w\n"}));
  CHECK(uuid_of(dir, "Watched/w") != uuid);
  CHECK(dir.query("SELECT status FROM instances") == Rows{"ok"});

  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);
}

TEST_CASE("two different definitions of one Type/identifier name both places",
          "[e2e][graph][duplicate]") {
  TempDir dir;
  std::string good = std::string(e2e::printing_prelude) + R"(
local Thing = T("Thing", { fields = { v = 0 } })
return Thing "dup" { v = 1 }
)";
  dir.write("pipeline.lua", good);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  std::string before = dir.state_bytes();

  std::string text = std::string(e2e::printing_prelude) + R"(
local Thing = T("Thing", { fields = { v = 0 } })
local Holder = T("Holder", { fields = { x = ochre.required } })
local first = Thing "dup" { v = 1 }  -- FIRST
local second = Thing "dup" { v = 2 }  -- SECOND
return { Holder "h1" { x = first }, Holder "h2" { x = second } }
)";
  dir.write("pipeline.lua", text);
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(count(r.err, "\n") == 1);
  std::string line = e2e::first_line(r.err);
  CHECK(line.rfind("error: ", 0) == 0);
  CHECK(line.find("Thing/dup") != std::string::npos);
  CHECK(line.find("pipeline.lua:" + std::to_string(e2e::line_of(text, "-- FIRST"))) != std::string::npos);
  CHECK(line.find("pipeline.lua:" + std::to_string(e2e::line_of(text, "-- SECOND"))) != std::string::npos);
  CHECK(r.out.find("CREATE ") == std::string::npos);
  CHECK((dir.state_bytes() == before));

  r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.code == 2);
  CHECK(r.err.find("Thing/dup") != std::string::npos);
}

TEST_CASE("the same instance declared twice identically is one node", "[e2e][graph][duplicate]") {
  TempDir dir;
  dir.write("pipeline.lua", std::string(e2e::printing_prelude) + R"(
local Thing = T("Thing", {
  fields = { v = 0 },
  create = function(self) print("CREATE " .. tostring(self)) return { seen = self.v * 7 } end,
})
local Holder = T("Holder", {
  fields = { x = ochre.required },
  create = function(self) print("CREATE " .. tostring(self) .. " saw " .. tostring(self.x.outputs.seen)) end,
})
return { Holder "h1" { x = Thing "same" { v = 1 } }, Holder "h2" { x = Thing "same" { v = 1 } } }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  auto thing = find_row(rows, "Thing/same", "create");
  REQUIRE(thing);
  for (const char* h : {"Holder/h1", "Holder/h2"}) {
    auto row = find_row(rows, h, "create");
    REQUIRE(row);
    CHECK(row->deps == std::vector<int>{thing->index});
  }
  CHECK(count(r.out, "CREATE Thing/same\n") == 1);
  // Both declarations are the one instance: both users see its outputs.
  CHECK(count(r.out, "CREATE Holder/h1 saw 7\n") == 1);
  CHECK(count(r.out, "CREATE Holder/h2 saw 7\n") == 1);
  CHECK(dir.query("SELECT key FROM instances ORDER BY key") == Rows{"Holder/h1", "Holder/h2", "Thing/same"});
  CHECK(dir.query("SELECT count(*) FROM jobs WHERE key = 'Thing/same'") == Rows{"1"});

  r = dir.ochre({"plan", "pipeline.lua", "--json"});
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out)["nodes"].size() == 3);
}

TEST_CASE("plan --json has every job and node with ids, action, reason, changes and deps",
          "[e2e][graph][json]") {
  TempDir dir;
  const std::regex uuid_re("[0-9a-f]{16}"), hash_re("[0-9a-f]{64}");

  // Before any apply: every node is created, for a reason.
  dir.write("pipeline.lua", diamond("{ \"a\" }", 2, "blur"));
  auto r = dir.ochre({"plan", "pipeline.lua", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto plan = json::parse(r.out);
  REQUIRE(plan["jobs"].size() == 4);
  REQUIRE(plan["nodes"].size() == 4);
  for (const auto& node : plan["nodes"]) {
    CHECK(node["action"] == "create");
    CHECK_FALSE(node["reason"].get<std::string>().empty());
  }
  CHECK_FALSE(dir.has_state());

  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  std::string old_blur_uuid = uuid_of(dir, "Blur/blur"), old_blur_hash = hash_of(dir, "Blur/blur");
  std::string old_collage_uuid = uuid_of(dir, "Collage/collage");
  std::string state = dir.state_bytes();

  // A breaking (radius) and a non-breaking (label) change to blur; collage breaks on blur.
  dir.write("pipeline.lua", diamond("{ \"a\" }", 3, "soft"));
  r = dir.ochre({"plan", "pipeline.lua", "--json"});
  REQUIRE(r.code == 0);
  CHECK((dir.state_bytes() == state));
  plan = json::parse(r.out);

  const auto& jobs = plan["jobs"];
  REQUIRE(jobs.size() == 4);
  std::map<std::string, json> job_by;  // "key action" -> job
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& j = jobs[i];
    for (const char* k : {"type", "identifier", "uuid", "hash", "action", "reason", "changes", "deps"})
      REQUIRE(j.contains(k));
    CHECK(std::regex_match(j["uuid"].get<std::string>(), uuid_re));
    CHECK(std::regex_match(j["hash"].get<std::string>(), hash_re));
    CHECK_FALSE(j["reason"].get<std::string>().empty());
    for (const auto& d : j["deps"]) CHECK(d.get<size_t>() < i);
    for (const auto& c : j["changes"])
      for (const char* k : {"field", "before", "after", "breaking"}) CHECK(c.contains(k));
    job_by[j["type"].get<std::string>() + "/" + j["identifier"].get<std::string>() + " " +
           j["action"].get<std::string>()] = j;
  }
  REQUIRE(job_by.count("Blur/blur delete"));
  REQUIRE(job_by.count("Blur/blur create"));
  REQUIRE(job_by.count("Collage/collage delete"));
  REQUIRE(job_by.count("Collage/collage create"));
  // A delete is of the stored version, a create of the new one.
  CHECK(job_by["Blur/blur delete"]["uuid"] == old_blur_uuid);
  CHECK(job_by["Blur/blur delete"]["hash"] == old_blur_hash);
  CHECK(job_by["Collage/collage delete"]["uuid"] == old_collage_uuid);
  CHECK(job_by["Blur/blur create"]["uuid"] != old_blur_uuid);
  CHECK(job_by["Collage/collage create"]["uuid"] != old_collage_uuid);

  json radius, label;
  for (const auto& c : job_by["Blur/blur create"]["changes"]) {
    if (c["field"] == "radius") radius = c;
    if (c["field"] == "label") label = c;
  }
  CHECK(job_by["Blur/blur create"]["changes"].size() == 2);
  CHECK(radius == json{{"field", "radius"}, {"before", 2}, {"after", 3}, {"breaking", true}});
  CHECK(label == json{{"field", "label"}, {"before", "blur"}, {"after", "soft"}, {"breaking", false}});
  bool collage_a_breaking = false;
  for (const auto& c : job_by["Collage/collage create"]["changes"])
    if (c["field"] == "a") collage_a_breaking = c["breaking"].get<bool>();
  CHECK(collage_a_breaking);

  std::map<std::string, json> node_by;
  for (const auto& n : plan["nodes"]) {
    for (const char* k : {"type", "identifier", "uuid", "hash", "action", "reason", "changes", "deps"})
      REQUIRE(n.contains(k));
    CHECK(std::regex_match(n["uuid"].get<std::string>(), uuid_re));
    CHECK(std::regex_match(n["hash"].get<std::string>(), hash_re));
    node_by[n["type"].get<std::string>() + "/" + n["identifier"].get<std::string>()] = n;
  }
  REQUIRE(node_by.size() == 4);
  CHECK(node_by["Download/img"]["action"] == "none");
  CHECK(node_by["Edge/edge"]["action"] == "none");
  CHECK(node_by["Blur/blur"]["action"] == "replace");
  CHECK(node_by["Collage/collage"]["action"] == "replace");
  CHECK(node_by["Download/img"]["changes"].empty());
  CHECK(node_by["Blur/blur"]["changes"] == job_by["Blur/blur create"]["changes"]);
  CHECK(node_by["Blur/blur"]["uuid"] == job_by["Blur/blur create"]["uuid"]);
  CHECK(node_by["Blur/blur"]["hash"] == job_by["Blur/blur create"]["hash"]);
  CHECK(node_by["Download/img"]["uuid"] == uuid_of(dir, "Download/img"));
  CHECK(node_by["Download/img"]["hash"] == hash_of(dir, "Download/img"));
  CHECK(node_by["Blur/blur"]["deps"] == json::array({"Download/img"}));
  CHECK(node_by["Edge/edge"]["deps"] == json::array({"Download/img"}));
  CHECK(node_by["Download/img"]["deps"].empty());
  std::set<std::string> collage_deps(node_by["Collage/collage"]["deps"].begin(),
                                     node_by["Collage/collage"]["deps"].end());
  CHECK(collage_deps == std::set<std::string>{"Blur/blur", "Edge/edge"});

  // The JSON and the table describe the same plan.
  r = dir.ochre({"plan", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == jobs.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].uuid == jobs[i]["uuid"]);
    CHECK(rows[i].method == jobs[i]["action"]);
    CHECK(rows[i].deps == jobs[i]["deps"].get<std::vector<int>>());
  }
}
