// The inspection commands end to end: `state list|show|rm|mv`, `log`, `history`, `graph`,
// and the `--target` / `--replace` options of run and plan, as text and as JSON, with their
// usage errors and exit codes; and the promise that every read-only view leaves the state
// file byte for byte as it was.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::find_row;
using e2e::in_order;
using e2e::plan_rows;
using e2e::subst;
using e2e::TempDir;
using json = nlohmann::json;
using Rows = std::vector<std::string>;

namespace {

const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

// Every hook both prints its line and appends it to DIR/hooks, so a test can tell that no
// hook ran at all (even in a command that shows no job output).
std::string prelude(const TempDir& dir) {
  return subst(R"(local ochre = require "ochre"
local DIR = "{{DIR}}"
local function note(line)
  local f = assert(io.open(DIR .. "/hooks", "a"))
  f:write(line .. "\n")
  f:close()
  print(line)
end
local function T(name, spec)
  spec.create = spec.create or function(self) note("CREATE " .. tostring(self)) end
  spec.update = spec.update or function(self, old) note("UPDATE " .. tostring(self)) end
  spec.delete = spec.delete or function(self) note("DELETE " .. tostring(self)) end
  return ochre.component(name)(spec)
end
)",
               "DIR", dir.path());
}

// download -> blur, download -> edge, (blur, edge, download) -> collage: one Download
// instance used three times (twice inside a list and a map). Blur holds its source in a
// breaking field, so a new Download uuid gives Blur a new uuid too.
std::string diamond(const TempDir& dir, const std::map<std::string, std::string>& values = {}) {
  std::map<std::string, std::string> v = {{"IMG", "img"},     {"BLUR", "blur"}, {"COLLAGE", "collage"},
                                          {"URL", "http://example.org/img.png"},
                                          {"TAG", "a"},       {"RADIUS", "2"},  {"EXTRA", ""}};
  for (const auto& [k, x] : values) v[k] = x;
  std::string text = prelude(dir) + R"(
local Download = T("Download", { breaks = { "url" }, fields = { url = ochre.required, tag = "a" } })
local Blur = T("Blur", {
  breaks = { "src" },
  fields = { src = ochre.required, radius = 2 },
  create = function(self)
    note("CREATE " .. tostring(self) .. " radius=" .. self.radius)
    return { pixels = self.radius * 10 }
  end,
  delete = function(self) note("DELETE " .. tostring(self) .. " radius=" .. self.radius) end,
})
local Edge = T("Edge", { fields = { src = ochre.required } })
local Collage = T("Collage", { fields = { a = ochre.required, b = ochre.required, all = {} } })
local Extra = T("Extra", { fields = { n = 1 } })
local img = Download "{{IMG}}" { url = "{{URL}}", tag = "{{TAG}}" }
local collage = Collage "{{COLLAGE}}" {
  a = Blur "{{BLUR}}" { src = img, radius = {{RADIUS}} },
  b = Edge "edge" { src = img },
  all = { img, { first = img } },
}
return { collage{{EXTRA}} }
)";
  for (const auto& [k, x] : v) text = subst(text, k, x);
  return text;
}

const std::string with_extra = R"(, Extra "x" {})";

Rows keys(const TempDir& dir, const std::string& db = ".ochre/state.db") {
  return dir.query("SELECT key FROM instances ORDER BY key", db);
}

// key -> "uuid|hash" of every stored instance.
std::map<std::string, std::string> ids(const TempDir& dir, const std::string& db = ".ochre/state.db") {
  std::map<std::string, std::string> out;
  for (const auto& row : dir.query("SELECT key, uuid || '|' || hash FROM instances", db)) {
    auto bar = row.find('|');
    out[row.substr(0, bar)] = row.substr(bar + 1);
  }
  return out;
}

std::string uuid_of(const TempDir& dir, const std::string& key) {
  auto rows = dir.query("SELECT uuid FROM instances WHERE key = '" + key + "'");
  return rows.empty() ? std::string() : rows[0];
}

// The bytes of the state and of its write-ahead log.
struct Snapshot {
  std::string db, wal;
  bool operator==(const Snapshot&) const = default;
};
Snapshot snapshot(const TempDir& dir, const std::string& db = ".ochre/state.db") {
  if (db == ".ochre/state.db") return {dir.state_bytes(), dir.bytes(db + "-wal")};
  return {dir.bytes(db), dir.bytes(db + "-wal")};
}

json parse(const e2e::Result& r) {
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  return j;
}

// Runs SQL on a state file directly (to make it look like one an older ochre wrote).
void exec_sql(const TempDir& dir, const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(dir.file(db).c_str(), &h) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  INFO(msg);
  REQUIRE(rc == SQLITE_OK);
}

// The lines of `text`.
Rows lines_of(const std::string& text) {
  Rows out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// True when the needles occur in `hay` one after the other (each searched from the end of
// the previous one, so a needle may occur earlier too).
bool in_sequence(const std::string& hay, const std::vector<std::string>& needles) {
  size_t at = 0;
  for (const auto& n : needles) {
    size_t p = hay.find(n, at);
    if (p == std::string::npos) return false;
    at = p + n.size();
  }
  return true;
}

// The first line of r.err, checked to be the only one and to start with "error: ".
std::string one_error(const e2e::Result& r) {
  INFO(r.out << r.err);
  CHECK(count(r.err, "\n") == 1);
  CHECK(r.err.rfind("error: ", 0) == 0);
  return e2e::first_line(r.err);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// state list / state show

TEST_CASE("state list and state show, as text and as JSON", "[e2e][inspect][state]") {
  TempDir dir;
  // Nothing stored yet: an empty answer, and no state file appears.
  auto r = dir.ochre({"state", "list"});
  CHECK(r.code == 0);
  CHECK(r.out == "The state is empty.\n");
  CHECK(r.err.empty());
  r = dir.ochre({"state", "list", "--json"});
  CHECK(r.code == 0);
  CHECK(json::parse(r.out) == json::array());
  r = dir.ochre({"state"});  // list is the default
  CHECK(r.code == 0);
  CHECK(r.out == "The state is empty.\n");
  CHECK_FALSE(dir.exists(".ochre"));

  dir.write("pipeline.lua", diamond(dir));
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto stored = ids(dir);
  REQUIRE(stored.size() == 4);

  // Text: a header, then one row per instance in key order.
  r = dir.ochre({"state", "list"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  Rows lines = lines_of(r.out);
  REQUIRE(lines.size() == 5);
  CHECK(std::regex_match(lines[0], std::regex("KEY +UUID +STATUS")));
  Rows want_keys{"Blur/blur", "Collage/collage", "Download/img", "Edge/edge"};
  for (size_t i = 0; i < want_keys.size(); ++i) {
    const std::string& k = want_keys[i];
    std::string uuid = stored[k].substr(0, stored[k].find('|'));
    CHECK(std::regex_match(lines[i + 1], std::regex(k + " +" + uuid + "  ok")));
  }
  // The columns line up.
  CHECK(lines[0].find("UUID") == lines[1].find(uuid_of(dir, "Blur/blur")));

  // JSON: every stored instance with its ids, status and run.
  json list = parse(dir.ochre({"state", "list", "--json"}));
  REQUIRE(list.is_array());
  REQUIRE(list.size() == 4);
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    INFO(e.dump());
    CHECK(e["key"] == want_keys[i]);
    std::string key = e["key"];
    CHECK(e["type"] == key.substr(0, key.find('/')));
    CHECK(e["identifier"] == key.substr(key.find('/') + 1));
    CHECK(e["uuid"].get<std::string>() + "|" + e["hash"].get<std::string>() == stored[key]);
    CHECK(e["uuid"].get<std::string>().size() == 16);
    CHECK(e["hash"].get<std::string>().size() == 64);
    CHECK(e["status"] == "ok");
    CHECK(e["action"] == "create");
    CHECK(e["run"] == 1);
  }

  // state show, text: ids, status, run, fields (Lua-like), outputs, deps.
  r = dir.ochre({"state", "show", "Collage/collage"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  std::string c = stored["Collage/collage"];
  CHECK(e2e::first_line(r.out) == "Collage/collage");
  CHECK(r.out.find("  uuid    " + c.substr(0, 16) + "\n") != std::string::npos);
  CHECK(r.out.find("  hash    " + c.substr(17) + "\n") != std::string::npos);
  CHECK(r.out.find("  status  ok\n") != std::string::npos);
  CHECK(r.out.find("  run     1\n") != std::string::npos);
  CHECK(r.out.find("    a = Blur/blur\n") != std::string::npos);
  CHECK(r.out.find("    b = Edge/edge\n") != std::string::npos);
  CHECK(r.out.find("    identifier = \"collage\"\n") != std::string::npos);
  CHECK(r.out.find("    all = {Download/img, {first = Download/img}}\n") != std::string::npos);
  CHECK(r.out.find("  deps    ") != std::string::npos);
  CHECK(in_order(r.out, {"  uuid ", "  hash ", "  status ", "  run ", "  fields\n", "    a = ", "  outputs ",
                         "  deps "}));

  r = dir.ochre({"state", "show", "Blur/blur"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("    radius = 2\n") != std::string::npos);
  CHECK(r.out.find("    src = Download/img\n") != std::string::npos);
  CHECK(r.out.find("  outputs {pixels = 20}\n") != std::string::npos);
  CHECK(r.out.find("  deps    Download/img\n") != std::string::npos);

  r = dir.ochre({"state", "show", "Download/img"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("    url = \"http://example.org/img.png\"\n") != std::string::npos);
  CHECK(r.out.find("    tag = \"a\"\n") != std::string::npos);
  CHECK(r.out.find("  deps ") == std::string::npos);  // a leaf has none

  // state show, JSON: a field holding an instance is {"$ref": "Type/id"}, also in lists and maps.
  json show = parse(dir.ochre({"state", "show", "Collage/collage", "--json"}));
  INFO(show.dump());
  CHECK(show["key"] == "Collage/collage");
  CHECK(show["type"] == "Collage");
  CHECK(show["identifier"] == "collage");
  CHECK(show["uuid"] == c.substr(0, 16));
  CHECK(show["hash"] == c.substr(17));
  CHECK(show["status"] == "ok");
  CHECK(show["action"] == "create");
  CHECK(show["error"] == "");
  CHECK(show["run"] == 1);
  CHECK(show["fields"]["a"] == json{{"$ref", "Blur/blur"}});
  CHECK(show["fields"]["b"] == json{{"$ref", "Edge/edge"}});
  CHECK(show["fields"]["identifier"] == "collage");
  CHECK(show["fields"]["all"] == json::parse(R"([{"$ref":"Download/img"},{"first":{"$ref":"Download/img"}}])"));
  CHECK(show["outputs"] == json::object());
  std::set<std::string> deps;
  for (const auto& k : show["deps"]) deps.insert(k.get<std::string>());
  CHECK(deps == std::set<std::string>{"Blur/blur", "Edge/edge", "Download/img"});
  CHECK(show["deps"].size() == 3);

  json blur = parse(dir.ochre({"state", "show", "Blur/blur", "--json"}));
  CHECK(blur["fields"] == json::parse(R"({"identifier":"blur","radius":2,"src":{"$ref":"Download/img"}})"));
  CHECK(blur["outputs"] == json{{"pixels", 20}});
  CHECK(blur["deps"] == json::array({"Download/img"}));

  // Unknown key: exit 2, one line naming it and the state.
  for (bool as_json : {false, true}) {
    std::vector<std::string> args{"state", "show", "Nope/x"};
    if (as_json) args.push_back("--json");
    r = dir.ochre(args);
    INFO(r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(one_error(r).rfind("error: no instance 'Nope/x' in the state", 0) == 0);
  }

  // Usage errors.
  for (const Rows& args : {Rows{"state", "show"}, Rows{"state", "show", "A/a", "B/b"}, Rows{"state", "bogus"},
                           Rows{"state", "list", "extra"}}) {
    r = dir.ochre(args);
    INFO(args[1] << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    one_error(r);
  }
}

TEST_CASE("state list and show tell a failed job's status and error, log tells the run",
          "[e2e][inspect][state][log]") {
  TempDir dir;
  dir.write("pipeline.lua", prelude(dir) + R"(
local Bad = T("Bad", { fields = { v = 1 }, create = function(self) error("boom here") end })
local Good = T("Good", { fields = { v = 1 } })
local Top = T("Top", { fields = { bad = ochre.required, good = ochre.required } })
return Top "top" { bad = Bad "bad" {}, good = Good "good" {} }
)");
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 1);

  r = dir.ochre({"state", "list"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(std::regex_search(r.out, std::regex("\nBad/bad +" + uuid_of(dir, "Bad/bad") + "  failed \\(create\\)\n")));
  CHECK(std::regex_search(r.out, std::regex("\nGood/good +[0-9a-f]{16}  ok\n")));
  CHECK(r.out.find("Top/top") == std::string::npos);  // skipped: never stored

  json list = parse(dir.ochre({"state", "list", "--json"}));
  REQUIRE(list.size() == 2);
  CHECK(list[0]["key"] == "Bad/bad");
  CHECK(list[0]["status"] == "failed");
  CHECK(list[0]["action"] == "create");
  CHECK(list[1]["status"] == "ok");

  r = dir.ochre({"state", "show", "Bad/bad"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("  status  failed (create)\n") != std::string::npos);
  CHECK(std::regex_search(r.out, std::regex("\n  error   .*boom here\n")));
  json show = parse(dir.ochre({"state", "show", "Bad/bad", "--json"}));
  CHECK(show["status"] == "failed");
  CHECK(std::regex_search(show["error"].get<std::string>(), std::regex("pipeline\\.lua:\\d+: boom here")));
  CHECK(show["error"].get<std::string>().find("traceback") != std::string::npos);

  r = dir.ochre({"state", "show", "Top/top"});
  CHECK(r.code == 2);

  // The log: the run failed, one job failed with its error, the dependent was skipped.
  r = dir.ochre({"log"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("run 1  ", 0) == 0);
  CHECK(e2e::first_line(r.out).ends_with("  apply  failed (1 done, 1 failed, 1 skipped)"));
  CHECK(std::regex_search(r.out, std::regex("\n  failed +Bad/bad/[0-9a-f]{16}\\.create: .*boom here\n")));
  CHECK(std::regex_search(r.out, std::regex("\n  done +Good/good/[0-9a-f]{16}\\.create\n")));
  CHECK(std::regex_search(r.out, std::regex("\n  skipped +Top/top/[0-9a-f]{16}\\.create: Bad/bad failed\n")));
  json log = parse(dir.ochre({"log", "--json"}));
  REQUIRE(log.size() == 1);
  CHECK(log[0]["outcome"] == "failed");
  CHECK(log[0]["summary"] == "1 done, 1 failed, 1 skipped");
  REQUIRE(log[0]["jobs"].size() == 3);
  std::map<std::string, json> jobs;
  for (const auto& j : log[0]["jobs"]) jobs[j["key"]] = j;
  CHECK(jobs["Bad/bad"]["outcome"] == "failed");
  CHECK(jobs["Bad/bad"]["error"].get<std::string>().find("boom here") != std::string::npos);
  CHECK(jobs["Good/good"]["outcome"] == "done");
  CHECK(jobs["Good/good"]["error"] == "");
  CHECK(jobs["Top/top"]["outcome"] == "skipped");
  CHECK(jobs["Top/top"]["started"] == "");
}

TEST_CASE("which state the commands read: --state, $OCHRE_STATE, the current directory, "
          "beside FILE",
          "[e2e][inspect][state-path][sqlite]") {
  TempDir dir;
  dir.write("sub/pipeline.lua", diamond(dir));
  auto r = dir.ochre({"run", "sub/pipeline.lua"});
  REQUIRE(r.code == 0);
  REQUIRE(dir.exists("sub/.ochre/state.db"));
  CHECK_FALSE(dir.exists(".ochre"));
  const std::string db = "sub/.ochre/state.db";

  // Without a FILE: the current directory's .ochre/state.db (which does not exist here).
  r = dir.ochre({"state", "list"});
  CHECK(r.code == 0);
  CHECK(r.out == "The state is empty.\n");
  r = dir.ochre({"log"});
  CHECK(r.code == 0);
  CHECK(r.out == "No runs yet.\n");
  CHECK(dir.ochre({"history", "Blur/blur"}).code == 2);
  CHECK_FALSE(dir.exists(".ochre"));

  // --state, $OCHRE_STATE, and --state winning over $OCHRE_STATE.
  std::vector<std::pair<Rows, std::map<std::string, std::string>>> ways = {
      {{"--state", db}, {}},
      {{}, {{"OCHRE_STATE", db}}},
      {{"--state", db}, {{"OCHRE_STATE", "elsewhere.db"}}},
  };
  for (const auto& [extra, env] : ways) {
    auto with = [&](Rows args) {
      args.insert(args.end(), extra.begin(), extra.end());
      return dir.ochre(args, env);
    };
    r = with({"state", "list"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(count(r.out, "  ok\n") == 4);
    r = with({"state", "show", "Blur/blur"});
    CHECK(r.code == 0);
    r = with({"log"});
    CHECK(r.code == 0);
    CHECK(r.out.rfind("run 1  ", 0) == 0);
    r = with({"history", "Blur/blur"});
    CHECK(r.code == 0);
    CHECK(count(r.out, "  create  ") == 1);
  }
  CHECK_FALSE(dir.exists("elsewhere.db"));

  // With a FILE: the state beside it.
  r = dir.ochre({"plan", "sub/pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
  r = dir.ochre({"graph", "sub/pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out.find("(create)") == std::string::npos);
  CHECK(count(r.out, "[label=") == 4);
  CHECK_FALSE(dir.exists(".ochre"));
}

// ---------------------------------------------------------------------------------------
// state rm

TEST_CASE("state rm forgets a key without running any hook, and the next plan creates it again",
          "[e2e][inspect][state-rm]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  dir.write("hooks", "");
  auto before = ids(dir);

  r = dir.ochre({"state", "rm", "Edge/edge"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("Forgot Edge/edge", 0) == 0);
  CHECK(r.err.empty());
  CHECK(dir.lines("hooks").empty());
  CHECK(keys(dir) == Rows{"Blur/blur", "Collage/collage", "Download/img"});
  // Nothing else was touched.
  auto after = ids(dir);
  before.erase("Edge/edge");
  CHECK(after == before);
  CHECK(dir.ochre({"state", "show", "Edge/edge"}).code == 2);
  // Its history stays in the journal.
  r = dir.ochre({"history", "Edge/edge"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "  create  ") == 1);

  // The next plan creates exactly it again, and after that there is nothing to do.
  r = dir.ochre({"plan", "pipeline.lua"});
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Edge/edge");
  CHECK(rows[0].event == "CREATE");
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(dir.lines("hooks") == Rows{"CREATE Edge/edge"});
  CHECK(dir.ochre({"run", "pipeline.lua"}).out == no_changes);

  // Forgetting the root: the next run creates it again, its sub-components stay.
  dir.write("hooks", "");
  REQUIRE(dir.query("SELECT key FROM roots") == Rows{"Collage/collage"});
  r = dir.ochre({"state", "rm", "Collage/collage"});
  REQUIRE(r.code == 0);
  CHECK(dir.query("SELECT key FROM roots").empty());
  CHECK(keys(dir) == Rows{"Blur/blur", "Download/img", "Edge/edge"});
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Collage/collage");
  CHECK(rows[0].event == "CREATE");
  CHECK(dir.lines("hooks") == Rows{"CREATE Collage/collage"});
  CHECK(dir.query("SELECT key FROM roots") == Rows{"Collage/collage"});

  // Unknown key, or the wrong number of arguments: exit 2, nothing written.
  auto snap = snapshot(dir);
  for (const Rows& args : {Rows{"state", "rm", "Nope/x"}, Rows{"state", "rm"}, Rows{"state", "rm", "Edge/edge", "Blur/blur"}}) {
    r = dir.ochre(args);
    INFO(args.size() << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    one_error(r);
  }
  r = dir.ochre({"state", "rm", "Nope/x"});
  CHECK(one_error(r).rfind("error: no instance 'Nope/x' in the state", 0) == 0);
  CHECK((snapshot(dir) == snap));
  CHECK(keys(dir) == Rows{"Blur/blur", "Collage/collage", "Download/img", "Edge/edge"});
}

TEST_CASE("state rm is the way out when a type vanished while an instance of it remains",
          "[e2e][inspect][state-rm]") {
  TempDir dir;
  std::string head = prelude(dir) + R"(
local Top = T("Top", { fields = { uses = false } })
)";
  dir.write("pipeline.lua", head + R"(
local Old = T("Old", { fields = { v = 1 } })
return Top "top" { uses = Old "o" {} }
)");
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  dir.write("pipeline.lua", head + R"(return Top "top" { uses = "nothing" })");
  auto r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("ochre state rm") != std::string::npos);

  dir.write("hooks", "");
  r = dir.ochre({"state", "rm", "Old/o"});
  REQUIRE(r.code == 0);
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Top/top");
  CHECK(rows[0].event == "UPDATE");
  CHECK(dir.lines("hooks") == Rows{"UPDATE Top/top"});
  CHECK(keys(dir) == Rows{"Top/top"});
}

TEST_CASE("state rm and state mv of an unknown key write no state where there was none",
          "[e2e][inspect][state-rm][state-mv][bug]") {
  TempDir dir;
  for (const Rows& args : {Rows{"state", "rm", "Nope/x"}, Rows{"state", "mv", "Nope/x", "Nope/y"}}) {
    auto r = dir.ochre(args);
    INFO(args[1] << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("no instance 'Nope/x'") != std::string::npos);
    // Exit 2 writes nothing: no state file is created for a key it does not hold.
    CHECK_FALSE(dir.has_state());
  }
}

TEST_CASE("state rm and state mv take the lock, the read-only views do not wait for it",
          "[e2e][inspect][lock]") {
  TempDir dir;
  dir.write("pipeline.lua", subst(R"(local ochre = require "ochre"
local DIR = "{{DIR}}"
local L = ochre.component "L" {
  create = function(self)
    local f = assert(io.open(DIR .. "/holding", "a")) f:close()
    ochre.wait_file(DIR .. "/release")
  end,
}
local K = ochre.component "K" { fields = { v = 1 } }
return { K "k" {}, L "one" {} }
)",
                                  "DIR", dir.path()));
  // K/k is applied first, so the state holds something to rm or mv during the second run.
  dir.write("release", "");
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  REQUIRE(dir.ochre({"state", "rm", "L/one"}).code == 0);
  std::remove(dir.file("release").c_str());
  std::remove(dir.file("holding").c_str());

  auto first = dir.start({"run", "pipeline.lua"});
  REQUIRE(dir.wait_for_file("holding"));
  const std::string holder = "is locked by pid " + std::to_string(first->pid()) + " on ";

  auto r = dir.ochre({"state", "rm", "K/k"});
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find(holder) != std::string::npos);
  r = dir.ochre({"state", "mv", "K/k", "K/j"});
  CHECK(r.code == 3);
  CHECK(r.err.find(holder) != std::string::npos);

  // Reading needs no lock.
  for (const Rows& args : {Rows{"state", "list"}, Rows{"state", "show", "K/k"}, Rows{"log"},
                           Rows{"history", "K/k"}, Rows{"graph", "pipeline.lua"}, Rows{"plan", "pipeline.lua"}}) {
    r = dir.ochre(args);
    INFO(args[0] << ": " << r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
  }
  // The log shows the run in progress.
  json log = parse(dir.ochre({"log", "--json"}));
  REQUIRE(log.size() >= 2);
  CHECK(log[0]["run"] == 2);
  CHECK(log[0]["outcome"] == "running");
  CHECK(log[0]["pid"] == first->pid());

  dir.write("release", "");
  r = first->wait();
  CHECK(r.code == 0);
  CHECK(keys(dir) == Rows{"K/k", "L/one"});
  json after = parse(dir.ochre({"log", "--json", "--limit", "1"}));
  REQUIRE(after.size() == 1);
  CHECK(after[0]["outcome"] == "done");
}

// ---------------------------------------------------------------------------------------
// state mv

TEST_CASE("state mv of a leaf recomputes the ids above it, then the renamed pipeline "
          "plans and runs nothing",
          "[e2e][inspect][state-mv]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  auto before = ids(dir);
  dir.write("hooks", "");

  auto r = dir.ochre({"state", "mv", "Download/img", "Download/pic"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "Moved Download/img to Download/pic\n");
  CHECK(dir.lines("hooks").empty());
  CHECK(keys(dir) == Rows{"Blur/blur", "Collage/collage", "Download/pic", "Edge/edge"});

  // The renamed instance and the references to it.
  json pic = parse(dir.ochre({"state", "show", "Download/pic", "--json"}));
  CHECK(pic["identifier"] == "pic");
  CHECK(pic["fields"]["identifier"] == "pic");
  CHECK(pic["fields"]["url"] == "http://example.org/img.png");
  json blur = parse(dir.ochre({"state", "show", "Blur/blur", "--json"}));
  CHECK(blur["fields"]["src"] == json{{"$ref", "Download/pic"}});
  CHECK(blur["deps"] == json::array({"Download/pic"}));
  json collage = parse(dir.ochre({"state", "show", "Collage/collage", "--json"}));
  CHECK(collage["fields"]["all"] == json::parse(R"([{"$ref":"Download/pic"},{"first":{"$ref":"Download/pic"}}])"));
  CHECK(collage["deps"].dump().find("Download/img") == std::string::npos);

  // The ids are those a fresh apply of the renamed pipeline computes.
  auto after = ids(dir);
  TempDir fresh;
  fresh.write("pipeline.lua", diamond(fresh, {{"IMG", "pic"}}));
  REQUIRE(fresh.ochre({"run", "pipeline.lua"}).code == 0);
  CHECK(after == ids(fresh));
  // Blur holds the download in a breaking field: a new uuid; Edge and Collage: a new hash only.
  CHECK(after["Blur/blur"].substr(0, 16) != before["Blur/blur"].substr(0, 16));
  CHECK(after["Edge/edge"].substr(0, 16) == before["Edge/edge"].substr(0, 16));
  CHECK(after["Edge/edge"] != before["Edge/edge"]);
  CHECK(after["Collage/collage"].substr(0, 16) == before["Collage/collage"].substr(0, 16));
  CHECK(after["Collage/collage"] != before["Collage/collage"]);

  // Renamed in the file too: nothing to do, no hook runs, no run is journalled.
  dir.write("pipeline.lua", diamond(dir, {{"IMG", "pic"}}));
  r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
  CHECK(dir.lines("hooks").empty());
  CHECK(dir.query("SELECT count(*) FROM runs") == Rows{"1"});
  r = dir.ochre({"graph", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out.find(" (") == std::string::npos);  // no node has a planned action
}

TEST_CASE("state mv of a parent (with children and users) and of a root",
          "[e2e][inspect][state-mv]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  dir.write("hooks", "");

  // A node in the middle: its child stays, its user is rewritten.
  auto r = dir.ochre({"state", "mv", "Blur/blur", "Blur/soft"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(keys(dir) == Rows{"Blur/soft", "Collage/collage", "Download/img", "Edge/edge"});
  json soft = parse(dir.ochre({"state", "show", "Blur/soft", "--json"}));
  CHECK(soft["fields"]["identifier"] == "soft");
  CHECK(soft["fields"]["src"] == json{{"$ref", "Download/img"}});
  CHECK(soft["outputs"] == json{{"pixels", 20}});  // outputs move with it
  json collage = parse(dir.ochre({"state", "show", "Collage/collage", "--json"}));
  CHECK(collage["fields"]["a"] == json{{"$ref", "Blur/soft"}});
  {
    TempDir fresh;
    fresh.write("pipeline.lua", diamond(fresh, {{"BLUR", "soft"}}));
    REQUIRE(fresh.ochre({"run", "pipeline.lua"}).code == 0);
    CHECK(ids(dir) == ids(fresh));
  }
  dir.write("pipeline.lua", diamond(dir, {{"BLUR", "soft"}}));
  CHECK(dir.ochre({"plan", "pipeline.lua"}).out == no_changes);
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);

  // The root: the pipeline's root record follows it.
  r = dir.ochre({"state", "mv", "Collage/collage", "Collage/main"});
  REQUIRE(r.code == 0);
  CHECK(r.out == "Moved Collage/collage to Collage/main\n");
  CHECK(dir.query("SELECT key FROM roots") == Rows{"Collage/main"});
  {
    TempDir fresh;
    fresh.write("pipeline.lua", diamond(fresh, {{"BLUR", "soft"}, {"COLLAGE", "main"}}));
    REQUIRE(fresh.ochre({"run", "pipeline.lua"}).code == 0);
    CHECK(ids(dir) == ids(fresh));
  }
  dir.write("pipeline.lua", diamond(dir, {{"BLUR", "soft"}, {"COLLAGE", "main"}}));
  CHECK(dir.ochre({"plan", "pipeline.lua"}).out == no_changes);
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
  CHECK(dir.lines("hooks").empty());
  CHECK(dir.query("SELECT count(*) FROM runs") == Rows{"1"});

  // The renamed instances are what destroy deletes, under their new names.
  r = dir.ochre({"destroy", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(in_order(r.out, {"DELETE Collage/main\n", "DELETE Blur/soft radius=2\n", "DELETE Download/img\n"}));
  CHECK(keys(dir).empty());
}

TEST_CASE("state mv without renaming the pipeline: the old name is created again, the new "
          "one deleted",
          "[e2e][inspect][state-mv]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  REQUIRE(dir.ochre({"state", "mv", "Edge/edge", "Edge/sharp"}).code == 0);
  auto r = dir.ochre({"plan", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  auto create = find_row(rows, "Edge/edge", "create");
  auto update = find_row(rows, "Collage/collage", "update");
  auto del = find_row(rows, "Edge/sharp", "delete");
  REQUIRE(create);
  REQUIRE(update);
  REQUIRE(del);
  CHECK(std::find(update->deps.begin(), update->deps.end(), create->index) != update->deps.end());
  CHECK(std::find(del->deps.begin(), del->deps.end(), update->index) != del->deps.end());
}

TEST_CASE("state mv refuses another type, a taken name, an unknown key and bad arguments",
          "[e2e][inspect][state-mv]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  auto snap = snapshot(dir);
  auto before = ids(dir);

  struct Case {
    Rows args;
    std::string in_error;
  };
  std::vector<Case> cases = {
      {{"state", "mv", "Blur/blur", "Edge/blur"}, "different types"},
      {{"state", "mv", "Blur/blur", "Edge/edge"}, "different types"},
      {{"state", "mv", "Blur/blur", "Download/img"}, "different types"},
      {{"state", "mv", "Download/img", "Download/img"}, "Download/img is already in the state"},
      {{"state", "mv", "Nope/x", "Nope/y"}, "no instance 'Nope/x' in the state"},
      {{"state", "mv", "Blur/blur", "blur"}, "'blur' is not a Type/identifier key"},
      {{"state", "mv", "Blur/blur"}, "usage: ochre state mv OLD NEW"},
      {{"state", "mv"}, "usage: ochre state mv OLD NEW"},
      {{"state", "mv", "Blur/blur", "Blur/a", "Blur/b"}, "usage: ochre state mv OLD NEW"},
  };
  for (const auto& c : cases) {
    auto r = dir.ochre(c.args);
    INFO(c.args.size() << " " << (c.args.size() > 3 ? c.args[3] : "") << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(one_error(r).find(c.in_error) != std::string::npos);
  }
  // A taken name of the same type.
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", R"(, Blur "other" { src = img })"}}));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  snap = snapshot(dir);
  before = ids(dir);
  auto r = dir.ochre({"state", "mv", "Blur/blur", "Blur/other"});
  CHECK(r.code == 2);
  CHECK(one_error(r).find("Blur/other is already in the state") != std::string::npos);
  CHECK((snapshot(dir) == snap));
  CHECK(ids(dir) == before);
}

TEST_CASE("state mv on a state an older ochre wrote works once the pipeline was applied again",
          "[e2e][inspect][state-mv][schema][bug][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  // What schema version 1 looked like: no breaks column.
  exec_sql(dir, ".ochre/state.db",
           "PRAGMA journal_mode = DELETE; DROP TABLE meta; DROP TABLE outbox; ALTER TABLE instances DROP COLUMN protect; ALTER TABLE instances DROP COLUMN breaks; ALTER TABLE instances DROP COLUMN sensitive; PRAGMA user_version = 1;");
  auto snap = snapshot(dir);

  // Read as it is, without migrating it.
  auto r = dir.ochre({"state", "list"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "  ok\n") == 4);
  CHECK(dir.ochre({"state", "show", "Blur/blur", "--json"}).code == 0);
  CHECK(dir.ochre({"plan", "pipeline.lua"}).out == no_changes);
  CHECK((snapshot(dir) == snap));
  CHECK(dir.query("PRAGMA user_version") == Rows{"1"});

  // mv needs the breaking fields, which are not stored yet: refused, naming the stored key.
  r = dir.ochre({"state", "mv", "Download/img", "Download/pic"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  std::string err = one_error(r);
  CHECK(err.find("apply the pipeline once") != std::string::npos);
  CHECK(err.find("Download/img") != std::string::npos);
  CHECK(keys(dir) == Rows{"Blur/blur", "Collage/collage", "Download/img", "Edge/edge"});

  // Doing what the message says (applying the pipeline: nothing to do) makes mv possible.
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(r.out == no_changes);
  CHECK(dir.query("PRAGMA user_version") == Rows{"7"});
  r = dir.ochre({"state", "mv", "Download/img", "Download/pic"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  if (r.code == 0) {
    dir.write("pipeline.lua", diamond(dir, {{"IMG", "pic"}}));
    CHECK(dir.ochre({"plan", "pipeline.lua"}).out == no_changes);
  }
}

// ---------------------------------------------------------------------------------------
// log

TEST_CASE("log lists the runs newest first with their jobs, as text and as JSON",
          "[e2e][inspect][log]") {
  TempDir dir;
  auto r = dir.ochre({"log"});
  CHECK(r.code == 0);
  CHECK(r.out == "No runs yet.\n");
  r = dir.ochre({"log", "--json"});
  CHECK(r.code == 0);
  CHECK(json::parse(r.out) == json::array());
  CHECK_FALSE(dir.exists(".ochre"));

  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);                 // run 1: 4 creates
  dir.write("pipeline.lua", diamond(dir, {{"RADIUS", "3"}}));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);                 // run 2: 2 updates
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).out == no_changes);         // not journalled
  REQUIRE(dir.ochre({"destroy", "pipeline.lua"}).code == 0);             // run 3: 4 deletes

  r = dir.ochre({"log"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  Rows heads;
  for (const auto& line : lines_of(r.out))
    if (line.rfind("run ", 0) == 0) heads.push_back(line);
  REQUIRE(heads.size() == 3);
  const std::string ts = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
  CHECK(std::regex_match(heads[0], std::regex("run 3  " + ts + "  destroy  done \\(4 done\\)")));
  CHECK(std::regex_match(heads[1], std::regex("run 2  " + ts + "  apply  done \\(2 done\\)")));
  CHECK(std::regex_match(heads[2], std::regex("run 1  " + ts + "  apply  done \\(4 done\\)")));
  // Each run's jobs follow it, in their order.
  std::string blur1 = dir.query("SELECT uuid FROM jobs WHERE run = 1 AND key = 'Blur/blur'")[0];
  CHECK(in_sequence(r.out, {"run 3  ", "  done        Collage/collage/", ".delete\n", "run 2  ",
                         "  done        Blur/blur/" + blur1 + ".update\n",
                         "  done        Collage/collage/", ".update\n", "run 1  ",
                         "  done        Download/img/", ".create\n"}));
  CHECK(r.out.find("by ") != std::string::npos);
  CHECK(r.out.find(dir.file("pipeline.lua")) != std::string::npos);

  // --limit N: the newest N.
  r = dir.ochre({"log", "--limit", "1"});
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "\nrun ") + (r.out.rfind("run ", 0) == 0) == 1);
  CHECK(r.out.rfind("run 3  ", 0) == 0);
  CHECK(count(r.out, ".delete\n") == 4);
  r = dir.ochre({"log", "--limit=2"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("run 1  ") == std::string::npos);
  CHECK(r.out.find("run 2  ") != std::string::npos);

  // JSON.
  json log = parse(dir.ochre({"log", "--json"}));
  REQUIRE(log.size() == 3);
  CHECK(log[0]["run"] == 3);
  CHECK(log[1]["run"] == 2);
  CHECK(log[2]["run"] == 1);
  CHECK(log[0]["command"] == "destroy");
  CHECK(log[1]["command"] == "apply");
  std::vector<size_t> njobs{4, 2, 4};
  std::vector<std::string> summaries{"4 done", "2 done", "4 done"};
  for (size_t i = 0; i < log.size(); ++i) {
    const json& run = log[i];
    INFO(run.dump());
    CHECK(run["source"] == dir.file("pipeline.lua"));
    CHECK(run["outcome"] == "done");
    CHECK(run["summary"] == summaries[i]);
    CHECK(run["pid"].get<long long>() > 0);
    CHECK_FALSE(run["host"].get<std::string>().empty());
    CHECK_FALSE(run["user"].get<std::string>().empty());
    std::string started = run["started"], ended = run["ended"];
    CHECK(std::regex_match(started, std::regex(ts)));
    CHECK(std::regex_match(ended, std::regex(ts)));
    CHECK(started <= ended);
    REQUIRE(run["jobs"].size() == njobs[i]);
    int64_t id = run["run"];
    Rows db = dir.query("SELECT seq, key, uuid, action, outcome FROM jobs WHERE run = " + std::to_string(id) +
                        " ORDER BY seq");
    Rows got;
    for (const auto& j : run["jobs"]) {
      got.push_back(std::to_string(j["seq"].get<int>()) + "|" + j["key"].get<std::string>() + "|" +
                    j["uuid"].get<std::string>() + "|" + j["action"].get<std::string>() + "|" +
                    j["outcome"].get<std::string>());
      CHECK(j["error"] == "");
      CHECK(j["started"].get<std::string>() >= started);
      CHECK(j["ended"].get<std::string>() <= ended);
    }
    CHECK(got == db);
  }
  CHECK(log[1]["jobs"][0]["key"] == "Blur/blur");
  CHECK(log[1]["jobs"][0]["action"] == "update");
  json one = parse(dir.ochre({"log", "--json", "--limit", "1"}));
  REQUIRE(one.size() == 1);
  CHECK(one[0]["run"] == 3);

  // Usage errors.
  for (const Rows& args : {Rows{"log", "extra"}, Rows{"log", "--limit", "x"}, Rows{"log", "--limit", "-1"},
                           Rows{"log", "--limit"}}) {
    r = dir.ochre(args);
    INFO(args.back() << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    one_error(r);
  }
}

// ---------------------------------------------------------------------------------------
// history

TEST_CASE("history lists every stored version newest first: create, update, replace, delete",
          "[e2e][inspect][history]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);  // run 1: create
  std::string d1 = uuid_of(dir, "Download/img"), b1 = uuid_of(dir, "Blur/blur");
  dir.write("pipeline.lua", diamond(dir, {{"RADIUS", "3"}, {"TAG", "b"}}));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);  // run 2: update
  dir.write("pipeline.lua", diamond(dir, {{"RADIUS", "3"}, {"TAG", "b"}, {"URL", "http://example.org/new.png"}}));
  auto r = dir.ochre({"run", "pipeline.lua"});  // run 3: replace (breaking url, and Blur's src)
  REQUIRE(r.code == 0);
  std::string d3 = uuid_of(dir, "Download/img"), b3 = uuid_of(dir, "Blur/blur");
  REQUIRE(d3 != d1);
  REQUIRE(b3 != b1);
  CHECK(in_order(r.out, {"DELETE Blur/blur radius=3\n", "DELETE Download/img\n", "CREATE Download/img\n",
                         "CREATE Blur/blur radius=3\n"}));

  // Text.
  r = dir.ochre({"history", "Download/img"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(e2e::first_line(r.out) == "Download/img");
  Rows versions;
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    if (std::regex_match(line, m, std::regex("  \\S+  run (\\d+)  (\\w+) +uuid ([0-9a-f]{16})  hash ([0-9a-f]{64})")))
      versions.push_back(m[1].str() + " " + m[2].str() + " " + m[3].str());
  }
  CHECK(versions == Rows{"3 create " + d3, "3 delete " + d1, "2 update " + d1, "1 create " + d1});
  CHECK(r.out.find("tag = \"b\", url = \"http://example.org/new.png\"") != std::string::npos);
  CHECK(r.out.find("tag = \"a\", url = \"http://example.org/img.png\"") != std::string::npos);

  // JSON.
  json h = parse(dir.ochre({"history", "Blur/blur", "--json"}));
  INFO(h.dump());
  REQUIRE(h.size() == 4);
  Rows got;
  for (const auto& v : h) {
    CHECK(v["key"] == "Blur/blur");
    got.push_back(std::to_string(v["run"].get<int>()) + " " + v["action"].get<std::string>() + " " +
                  v["uuid"].get<std::string>());
    // The job is the journal's job that left this version.
    Rows job = dir.query("SELECT run, key, action, outcome FROM jobs WHERE id = " +
                         std::to_string(v["job"].get<long long>()));
    CHECK(job == Rows{std::to_string(v["run"].get<int>()) + "|Blur/blur|" + v["action"].get<std::string>() + "|done"});
  }
  CHECK(got == Rows{"3 create " + b3, "3 delete " + b1, "2 update " + b1, "1 create " + b1});
  CHECK(h[0]["fields"]["radius"] == 3);
  CHECK(h[0]["fields"]["src"] == json{{"$ref", "Download/img"}});
  CHECK(h[0]["outputs"] == json{{"pixels", 30}});
  CHECK(h[1]["fields"]["radius"] == 3);  // the delete saw the stored (updated) version
  CHECK(h[2]["fields"]["radius"] == 3);
  CHECK(h[3]["fields"]["radius"] == 2);
  CHECK(h[3]["outputs"] == json{{"pixels", 20}});
  CHECK(h[0]["hash"] == ids(dir)["Blur/blur"].substr(17));
  for (size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1]["at"].get<std::string>() >= h[i]["at"].get<std::string>());

  // After destroy the key is no longer stored, but its history is.
  REQUIRE(dir.ochre({"destroy", "pipeline.lua"}).code == 0);
  json gone = parse(dir.ochre({"history", "Blur/blur", "--json"}));
  REQUIRE(gone.size() == 5);
  CHECK(gone[0]["action"] == "delete");
  CHECK(gone[0]["run"] == 4);
  CHECK(gone[0]["uuid"] == b3);

  // Unknown key, usage errors.
  r = dir.ochre({"history", "Nope/x"});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(one_error(r).rfind("error: no instance 'Nope/x' in the state", 0) == 0);
  r = dir.ochre({"history", "Nope/x", "--json"});
  CHECK(r.code == 2);
  for (const Rows& args : {Rows{"history"}, Rows{"history", "A/a", "B/b"}}) {
    r = dir.ochre(args);
    CHECK(r.code == 2);
    one_error(r);
  }
}

// ---------------------------------------------------------------------------------------
// graph

namespace {

// The DOT nodes (key -> label) and edges ("from -> to") of `out`.
struct Dot {
  std::map<std::string, std::string> labels;
  std::set<std::string> edges;
};
Dot parse_dot(const std::string& out) {
  Dot d;
  std::regex node(R"re(  "([^"]+)" \[label="([^"]+)", fillcolor=[a-z0-9]+\];)re");
  std::regex edge(R"re(  "([^"]+)" -> "([^"]+)";)re");
  for (const auto& line : lines_of(out)) {
    std::smatch m;
    if (std::regex_match(line, m, node)) d.labels[m[1]] = m[2];
    else if (std::regex_match(line, m, edge)) d.edges.insert(m[1].str() + " -> " + m[2].str());
  }
  return d;
}

// The Mermaid nodes (label -> class) and edges ("label --> label") of `out`.
struct Mermaid {
  std::map<std::string, std::string> classes;
  std::set<std::string> edges;
};
Mermaid parse_mermaid(const std::string& out) {
  Mermaid g;
  std::map<std::string, std::string> label_of;
  std::regex node(R"re(  (\w+)\["([^"]+)"\]:::(\w+))re");
  std::regex edge(R"re(  (\w+) --> (\w+))re");
  for (const auto& line : lines_of(out)) {
    std::smatch m;
    if (std::regex_match(line, m, node)) {
      label_of[m[1]] = m[2];
      g.classes[m[2]] = m[3];
    } else if (std::regex_match(line, m, edge)) {
      g.edges.insert(label_of[m[1]] + " --> " + label_of[m[2]]);
    }
  }
  return g;
}

const std::set<std::string> diamond_edges = {
    "Download/img -> Blur/blur", "Download/img -> Edge/edge", "Blur/blur -> Collage/collage",
    "Edge/edge -> Collage/collage", "Download/img -> Collage/collage"};

}  // namespace

TEST_CASE("graph draws the planned graph as DOT or Mermaid, nodes marked with their action",
          "[e2e][inspect][graph]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", with_extra}}));

  // Nothing applied yet: everything is created.
  auto r = dir.ochre({"graph", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("digraph ochre {\n", 0) == 0);
  CHECK(r.out.ends_with("}\n"));
  Dot d = parse_dot(r.out);
  CHECK(d.labels == std::map<std::string, std::string>{{"Download/img", "Download/img (create)"},
                                                       {"Blur/blur", "Blur/blur (create)"},
                                                       {"Edge/edge", "Edge/edge (create)"},
                                                       {"Collage/collage", "Collage/collage (create)"},
                                                       {"Extra/x", "Extra/x (create)"}});
  CHECK(d.edges == diamond_edges);  // child -> parent, the shared child once per user
  CHECK(count(r.out, " -> ") == 5);
  CHECK_FALSE(dir.has_state());

  r = dir.ochre({"graph", "pipeline.lua", "--format", "mermaid"});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("graph LR\n", 0) == 0);
  Mermaid m = parse_mermaid(r.out);
  CHECK(m.classes.size() == 5);
  for (const auto& [label, cls] : m.classes) {
    CHECK(label.ends_with(" (create)"));
    CHECK(cls == "create");
  }
  CHECK(m.edges.size() == 5);
  CHECK(m.edges.count("Download/img (create) --> Blur/blur (create)"));
  CHECK(m.edges.count("Blur/blur (create) --> Collage/collage (create)"));
  CHECK(m.edges.count("Download/img (create) --> Collage/collage (create)"));
  CHECK(std::regex_search(r.out, std::regex("\n  n0\\[\"[^\"]+\"\\]:::create\n")));
  CHECK(std::regex_search(r.out, std::regex("\n  n\\d+ --> n\\d+\n")));
  CHECK(r.out.find("classDef create") != std::string::npos);

  // Applied: no actions.
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  d = parse_dot(dir.ochre({"graph", "pipeline.lua", "--format=dot"}).out);
  REQUIRE(d.labels.size() == 5);
  for (const auto& [key, label] : d.labels) CHECK(label == key);
  m = parse_mermaid(dir.ochre({"graph", "pipeline.lua", "--format", "mermaid"}).out);
  REQUIRE(m.classes.size() == 5);
  for (const auto& [label, cls] : m.classes) CHECK(cls == "none");

  // A breaking change replaces Download and Blur (which holds it in a breaking field) and
  // updates the rest; a removed root is deleted.
  dir.write("pipeline.lua", diamond(dir, {{"URL", "http://example.org/new.png"}}));
  r = dir.ochre({"graph", "pipeline.lua"});
  REQUIRE(r.code == 0);
  d = parse_dot(r.out);
  CHECK(d.labels == std::map<std::string, std::string>{{"Download/img", "Download/img (replace)"},
                                                       {"Blur/blur", "Blur/blur (replace)"},
                                                       {"Edge/edge", "Edge/edge (update)"},
                                                       {"Collage/collage", "Collage/collage (update)"},
                                                       {"Extra/x", "Extra/x (delete)"}});
  CHECK(d.edges == diamond_edges);
  r = dir.ochre({"graph", "pipeline.lua", "--format", "mermaid"});
  REQUIRE(r.code == 0);
  m = parse_mermaid(r.out);
  CHECK(m.classes == std::map<std::string, std::string>{{"Download/img (replace)", "replace"},
                                                        {"Blur/blur (replace)", "replace"},
                                                        {"Edge/edge (update)", "update"},
                                                        {"Collage/collage (update)", "update"},
                                                        {"Extra/x (delete)", "delete"}});

  // Only a non-breaking change, and --replace on graph too.
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", with_extra}, {"RADIUS", "4"}}));
  d = parse_dot(dir.ochre({"graph", "pipeline.lua"}).out);
  CHECK(d.labels["Blur/blur"] == "Blur/blur (update)");
  CHECK(d.labels["Collage/collage"] == "Collage/collage (update)");
  CHECK(d.labels["Download/img"] == "Download/img");
  CHECK(d.labels["Extra/x"] == "Extra/x");
  d = parse_dot(dir.ochre({"graph", "pipeline.lua", "--replace", "Edge/edge"}).out);
  CHECK(d.labels["Edge/edge"] == "Edge/edge (replace)");

  // --json: the plan as JSON, every node and job.
  json j = parse(dir.ochre({"graph", "pipeline.lua", "--json"}));
  REQUIRE(j["nodes"].size() == 5);
  REQUIRE(j["jobs"].size() == 2);
  for (const auto& job : j["jobs"]) CHECK(job["action"] == "update");

  // Usage errors: exit 2, nothing printed on stdout.
  for (const Rows& args : {Rows{"graph", "pipeline.lua", "--format", "svg"}, Rows{"graph", "pipeline.lua", "--format"},
                           Rows{"graph"}, Rows{"graph", "pipeline.lua", "other.lua"}}) {
    r = dir.ochre(args);
    INFO(args.back() << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    one_error(r);
  }
  r = dir.ochre({"graph", "pipeline.lua", "--format", "svg"});
  CHECK(r.err.find("--format") != std::string::npos);
  r = dir.ochre({"graph", "missing.lua"});
  CHECK(r.code == 2);
}

TEST_CASE("graph labels holding a double quote stay valid DOT and Mermaid",
          "[e2e][inspect][graph][bug]") {
  TempDir dir;
  dir.write("pipeline.lua", prelude(dir) + R"(
local Leaf = T("Leaf", { fields = { v = 1 } })
local Top = T("Top", { fields = { child = ochre.required } })
return Top [[say "hi"]] { child = Leaf "leaf" {} }
)");
  auto r = dir.ochre({"graph", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find(R"x(  "Top/say \"hi\"" [label="Top/say \"hi\" (create)", )x") != std::string::npos);
  CHECK(r.out.find(R"x(  "Leaf/leaf" -> "Top/say \"hi\"";)x") != std::string::npos);

  r = dir.ochre({"graph", "pipeline.lua", "--format", "mermaid"});
  REQUIRE(r.code == 0);
  // A Mermaid label is `["text"]`: the text itself may hold no raw double quote (Mermaid
  // writes it as #quot;).
  std::regex node(R"re(  n\d+\["(.*)"\]:::\w+)re");
  int nodes = 0;
  for (const auto& line : lines_of(r.out)) {
    std::smatch m;
    if (!std::regex_match(line, m, node)) continue;
    ++nodes;
    INFO(line);
    CHECK(m[1].str().find('"') == std::string::npos);
  }
  CHECK(nodes == 2);
}

// ---------------------------------------------------------------------------------------
// --target and --replace

TEST_CASE("option --target plans only KEY and what it depends on, in a diamond",
          "[e2e][inspect][target]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", with_extra}}));

  // Nothing applied: only Blur and its download are planned and created.
  auto r = dir.ochre({"plan", "pipeline.lua", "--target", "Blur/blur"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(find_row(rows, "Download/img", "create"));
  CHECK(find_row(rows, "Blur/blur", "create"));
  json plan = parse(dir.ochre({"plan", "pipeline.lua", "--target", "Blur/blur", "--json"}));
  CHECK(plan["jobs"].size() == 2);

  r = dir.ochre({"run", "pipeline.lua", "--target", "Blur/blur"});
  REQUIRE(r.code == 0);
  CHECK(dir.lines("hooks") == Rows{"CREATE Download/img", "CREATE Blur/blur radius=2"});
  CHECK(keys(dir) == Rows{"Blur/blur", "Download/img"});

  // The whole pipeline then creates the rest, only.
  dir.write("hooks", "");
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  CHECK(find_row(rows, "Edge/edge", "create"));
  CHECK(find_row(rows, "Collage/collage", "create"));
  CHECK(find_row(rows, "Extra/x", "create"));
  CHECK(dir.lines("hooks").size() == 3);

  // A change to the shared download, targeting one side of the diamond: the download and
  // that side are updated, the other side and the top are left for later.
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", with_extra}, {"TAG", "b"}}));
  dir.write("hooks", "");
  r = dir.ochre({"run", "pipeline.lua", "--target", "Edge/edge"});
  INFO(r.out);
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(find_row(rows, "Download/img", "update"));
  CHECK(find_row(rows, "Edge/edge", "update"));
  CHECK(dir.lines("hooks") == Rows{"UPDATE Download/img", "UPDATE Edge/edge"});
  r = dir.ochre({"plan", "pipeline.lua"});
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(find_row(rows, "Blur/blur", "update"));
  CHECK(find_row(rows, "Collage/collage", "update"));

  // --target is repeatable: both sides, still not the top.
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", with_extra}, {"TAG", "c"}}));
  r = dir.ochre({"plan", "pipeline.lua", "--target", "Blur/blur", "--target=Edge/edge"});
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  CHECK(find_row(rows, "Download/img", "update"));
  CHECK(find_row(rows, "Blur/blur", "update"));
  CHECK(find_row(rows, "Edge/edge", "update"));
  // The top as target: everything below it, but no other root.
  r = dir.ochre({"run", "pipeline.lua", "--target", "Collage/collage"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  CHECK(rows.size() == 4);
  CHECK_FALSE(find_row(rows, "Extra/x", "update"));

  // A removed instance is not deleted by a targeted run, even a run targeting everything else.
  dir.write("pipeline.lua", diamond(dir, {{"TAG", "c"}}));
  dir.write("hooks", "");
  r = dir.ochre({"plan", "pipeline.lua", "--target", "Collage/collage"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
  r = dir.ochre({"run", "pipeline.lua", "--target", "Collage/collage"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
  CHECK(dir.lines("hooks").empty());
  CHECK(keys(dir) == Rows{"Blur/blur", "Collage/collage", "Download/img", "Edge/edge", "Extra/x"});
  // Stored, but no longer in the pipeline: not a target.
  r = dir.ochre({"plan", "pipeline.lua", "--target", "Extra/x"});
  CHECK(r.code == 2);
  CHECK(r.err.find("Extra/x") != std::string::npos);
  // ... the full run deletes it.
  r = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(r.code == 0);
  CHECK(dir.lines("hooks") == Rows{"DELETE Extra/x"});

  // Unknown target: exit 2, nothing written.
  auto snap = snapshot(dir);
  for (const char* command : {"plan", "run", "graph"}) {
    r = dir.ochre({command, "pipeline.lua", "--target", "Nope/x"});
    INFO(command << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(one_error(r).find("Nope/x") != std::string::npos);
  }
  CHECK((snapshot(dir) == snap));
}

TEST_CASE("option --replace deletes and creates KEY even when unchanged, its delete hook seeing the "
          "stored fields",
          "[e2e][inspect][replace]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  std::string blur = uuid_of(dir, "Blur/blur");
  auto before = ids(dir);

  // Unchanged: a DELETE and a CREATE of it under the same uuid, nothing else.
  auto r = dir.ochre({"plan", "pipeline.lua", "--replace", "Blur/blur"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 2);
  auto del = find_row(rows, "Blur/blur", "delete");
  auto create = find_row(rows, "Blur/blur", "create");
  REQUIRE(del);
  REQUIRE(create);
  CHECK(del->uuid == blur);
  CHECK(create->uuid == blur);
  CHECK(create->deps == std::vector<int>{del->index});
  json plan = parse(dir.ochre({"plan", "pipeline.lua", "--replace", "Blur/blur", "--json"}));
  REQUIRE(plan["jobs"].size() == 2);
  for (const auto& job : plan["jobs"]) {
    CHECK(job["key"] == "Blur/blur");
    CHECK(job["reason"].get<std::string>().find("--replace") != std::string::npos);
  }
  CHECK(std::count_if(plan["jobs"].begin(), plan["jobs"].end(), [](const json& j) { return j["replace"] == true; }) >= 1);

  dir.write("hooks", "");
  r = dir.ochre({"run", "pipeline.lua", "--replace", "Blur/blur"});
  REQUIRE(r.code == 0);
  CHECK(dir.lines("hooks") == Rows{"DELETE Blur/blur radius=2", "CREATE Blur/blur radius=2"});
  CHECK(ids(dir) == before);
  CHECK(dir.ochre({"run", "pipeline.lua"}).out == no_changes);

  // With a non-breaking change (an UPDATE otherwise): the delete hook sees the stored
  // radius, the create the new one; the user of it is then updated.
  dir.write("pipeline.lua", diamond(dir, {{"RADIUS", "5"}}));
  dir.write("hooks", "");
  r = dir.ochre({"run", "pipeline.lua", "--replace", "Blur/blur"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  REQUIRE(rows.size() == 3);
  CHECK(find_row(rows, "Blur/blur", "delete"));
  CHECK(find_row(rows, "Blur/blur", "create"));
  CHECK(find_row(rows, "Collage/collage", "update"));
  CHECK_FALSE(find_row(rows, "Blur/blur", "update"));
  CHECK(dir.lines("hooks") == Rows{"DELETE Blur/blur radius=2", "CREATE Blur/blur radius=5", "UPDATE Collage/collage"});
  json h = parse(dir.ochre({"history", "Blur/blur", "--json"}));
  REQUIRE(h.size() >= 2);
  CHECK(h[0]["action"] == "create");
  CHECK(h[0]["fields"]["radius"] == 5);
  CHECK(h[1]["action"] == "delete");
  CHECK(h[1]["fields"]["radius"] == 2);
  CHECK(parse(dir.ochre({"state", "show", "Blur/blur", "--json"}))["outputs"] == json{{"pixels", 50}});

  // Repeatable; a root too.
  dir.write("hooks", "");
  r = dir.ochre({"run", "pipeline.lua", "--replace", "Edge/edge", "--replace=Collage/collage"});
  REQUIRE(r.code == 0);
  rows = plan_rows(r.out);
  CHECK(rows.size() == 4);
  Rows hooks = dir.lines("hooks");
  CHECK(hooks.size() == 4);
  CHECK(std::count(hooks.begin(), hooks.end(), "DELETE Edge/edge") == 1);
  CHECK(std::count(hooks.begin(), hooks.end(), "CREATE Edge/edge") == 1);
  CHECK(std::count(hooks.begin(), hooks.end(), "DELETE Collage/collage") == 1);
  CHECK(std::count(hooks.begin(), hooks.end(), "CREATE Collage/collage") == 1);
  // The user is deleted before its sub-component, created after it.
  CHECK(in_order(r.out, {"DELETE Collage/collage\n", "DELETE Edge/edge\n", "CREATE Edge/edge\n",
                         "CREATE Collage/collage\n"}));
  CHECK(dir.ochre({"run", "pipeline.lua"}).out == no_changes);

  // Unknown key: exit 2, nothing written.
  auto snap = snapshot(dir);
  for (const char* command : {"plan", "run"}) {
    r = dir.ochre({command, "pipeline.lua", "--replace", "Nope/x"});
    INFO(command << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(one_error(r).find("Nope/x") != std::string::npos);
  }
  CHECK((snapshot(dir) == snap));
}

// ---------------------------------------------------------------------------------------
// Read-only views

TEST_CASE("the read-only views leave the state file byte for byte unchanged",
          "[e2e][inspect][readonly]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, {{"EXTRA", with_extra}}));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  dir.write("pipeline.lua", diamond(dir, {{"RADIUS", "3"}}));
  REQUIRE(dir.ochre({"run", "pipeline.lua", "--target", "Blur/blur"}).code == 0);
  // Pending work in the file, so that plan and graph have something to show.
  dir.write("pipeline.lua", diamond(dir, {{"RADIUS", "4"}, {"URL", "http://example.org/b.png"}}));
  auto snap = snapshot(dir);
  REQUIRE_FALSE(snap.db.empty());
  auto runs = dir.query("SELECT count(*) FROM runs");
  dir.write("hooks", "");

  const std::vector<Rows> views = {
      {"state", "list"},
      {"state", "list", "--json"},
      {"state"},
      {"state", "show", "Blur/blur"},
      {"state", "show", "Collage/collage", "--json"},
      {"log"},
      {"log", "--json"},
      {"log", "--limit", "1"},
      {"history", "Blur/blur"},
      {"history", "Download/img", "--json"},
      {"graph", "pipeline.lua"},
      {"graph", "pipeline.lua", "--format", "mermaid"},
      {"graph", "pipeline.lua", "--json"},
      {"plan", "pipeline.lua"},
      {"plan", "pipeline.lua", "--json"},
      {"plan", "pipeline.lua", "--target", "Edge/edge"},
      {"plan", "pipeline.lua", "--replace", "Edge/edge"},
      {"explain", "pipeline.lua", "Blur/blur"},
      {"run", "pipeline.lua", "--dry-run"},
      // Errors of the views change nothing either.
      {"state", "show", "Nope/x"},
      {"history", "Nope/x"},
      {"graph", "pipeline.lua", "--format", "svg"},
  };
  for (const auto& args : views) {
    std::string what;
    for (const auto& a : args) what += a + " ";
    auto r = dir.ochre(args);
    INFO(what << "-> " << r.code << "\n" << r.out << r.err);
    CHECK((r.code == 0 || r.code == 2));
    CHECK((snapshot(dir) == snap));
  }
  CHECK(dir.lines("hooks").empty());
  CHECK(dir.query("SELECT count(*) FROM runs") == runs);
}
