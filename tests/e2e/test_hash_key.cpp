// The values of sensitive fields enter ids through an HMAC under a key of the state's own
// (random, per state, never printed): a plan's ids reveal nothing a guess could confirm.
// Instances without sensitive fields keep the ids of the scheme (the golden vectors).
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

const std::string pipeline = R"(local ochre = require "ochre"
local Db = ochre.component "Db" {
  sensitive = { "password" }, breaks = { "password" },
  fields = { password = ochre.required, user = "admin" },
}
local Plain = ochre.component "Plain" { fields = { x = 1 } }
return { Db "main" { password = os.getenv("PW"), user = os.getenv("DBUSER") or "admin" }, Plain "p" { x = 2 } }
)";

// "uuid hash" of `key` in a plan's --json.
std::string ids_of(const std::string& json, const std::string& key) {
  size_t at = json.find("{\"key\":\"" + key + "\"");
  if (at == std::string::npos) return "";
  auto field = [&](const std::string& name) {
    size_t f = json.find("\"" + name + "\":\"", at);
    if (f == std::string::npos) return std::string();
    f += name.size() + 4;
    return json.substr(f, json.find('"', f) - f);
  };
  return field("uuid") + " " + field("hash");
}

std::string planned_ids(const TempDir& dir, const std::string& key, const std::string& pw,
                        const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"plan", "pipeline.lua", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto env = dir.state_env();
  env["PW"] = pw;
  auto r = dir.ochre(args, env);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return ids_of(r.out, key);
}

std::map<std::string, std::string> with_pw(const TempDir& dir, const std::string& pw) {
  auto env = dir.state_env();
  env["PW"] = pw;
  return env;
}

void exec_sql(const TempDir& dir, const std::string& sql, const std::string& db = ".ochre/state.db") {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(dir.file(db).c_str(), &h) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("two states of the same pipeline give a sensitive instance different ids and a plain one the same",
          "[e2e][secrets][hash-key]") {
  TempDir a, b;
  for (TempDir* d : {&a, &b}) {
    d->write("pipeline.lua", pipeline);
    auto r = d->ochre({"run", "pipeline.lua"}, with_pw(*d, "hunter2"));
    INFO(r.err);
    REQUIRE(r.code == 0);
  }
  std::string da = planned_ids(a, "Db/main", "hunter2"), db = planned_ids(b, "Db/main", "hunter2");
  REQUIRE(da.size() == 16 + 1 + 64);
  CHECK(da != db);
  // Not a single half of the hash in common: the keyed digests differ throughout.
  CHECK(da.substr(0, 16) != db.substr(0, 16));
  CHECK(da.substr(17, 32) != db.substr(17, 32));
  std::string pa = planned_ids(a, "Plain/p", "hunter2");
  REQUIRE(pa.size() == 16 + 1 + 64);
  CHECK(pa == planned_ids(b, "Plain/p", "hunter2"));
  // The ids a state gave are its own for good: the next plan agrees, nothing to do.
  CHECK(planned_ids(a, "Db/main", "hunter2") == da);
  auto r = a.ochre({"plan", "pipeline.lua"}, with_pw(a, "hunter2"));
  CHECK(r.out.find("No changes needed") != std::string::npos);
  // And a non-sensitive change keeps the instance (an update, its uuid the same).
  auto env = with_pw(a, "hunter2");
  env["DBUSER"] = "root";
  r = a.ochre({"run", "pipeline.lua"}, env);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("| UPDATE ") != std::string::npos);
  CHECK(r.out.find("REPLACE") == std::string::npos);
}

TEST_CASE("a guessed password cannot be confirmed from a plan's ids", "[e2e][secrets][hash-key]") {
  TempDir victim;
  victim.write("pipeline.lua", pipeline);
  REQUIRE(victim.ochre({"run", "pipeline.lua"}, with_pw(victim, "correct horse")).code == 0);
  std::string shown = planned_ids(victim, "Db/main", "correct horse");
  REQUIRE(!shown.empty());
  // Whoever holds the plan computes the ids of the right guess with a state of their own
  // (or none): they match nothing shown.
  TempDir attacker;
  attacker.write("pipeline.lua", pipeline);
  std::string guess = planned_ids(attacker, "Db/main", "correct horse");
  CHECK(guess.substr(0, 16) != shown.substr(0, 16));
  CHECK(guess.substr(17) != shown.substr(17));
  REQUIRE(attacker.ochre({"run", "pipeline.lua"}, with_pw(attacker, "correct horse")).code == 0);
  guess = planned_ids(attacker, "Db/main", "correct horse");
  CHECK(guess.substr(0, 16) != shown.substr(0, 16));
  CHECK(guess.substr(17) != shown.substr(17));
}

TEST_CASE("the state key is kept in the state and never printed and state migrate keeps it",
          "[e2e][secrets][hash-key][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto r = dir.ochre({"run", "pipeline.lua"}, {{"PW", "hunter2"}});
  REQUIRE(r.code == 0);
  Rows key = dir.query("SELECT value FROM meta WHERE name = 'hash_key'");
  REQUIRE(key.size() == 1);
  CHECK(key[0].size() == 64);
  for (Rows args : {Rows{"plan", "pipeline.lua", "--json"}, Rows{"state", "show", "Db/main"}, Rows{"log"},
                    Rows{"history", "Db/main"}, Rows{"state", "list"}}) {
    r = dir.ochre(args, {{"PW", "hunter2"}});
    CHECK(r.code == 0);
    CHECK(r.out.find(key[0]) == std::string::npos);
    CHECK(r.err.find(key[0]) == std::string::npos);
  }
  const std::string shown = planned_ids(dir, "Db/main", "hunter2");
  r = dir.ochre({"state", "migrate", "--from", ".ochre/state.db", "--to", "copy.db", "pipeline.lua"},
                {{"PW", "hunter2"}});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(dir.query("SELECT value FROM meta WHERE name = 'hash_key'", "copy.db") == key);
  CHECK(planned_ids(dir, "Db/main", "hunter2", {"--state", "copy.db"}) == shown);
}

TEST_CASE("a state from before keys gets one and its sensitive instances keep their ids until they change",
          "[e2e][secrets][hash-key][sqlite][migration]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}, {{"PW", "hunter2"}}).code == 0);
  // What schema 5 had: no key.
  exec_sql(dir, "DROP TABLE meta; PRAGMA user_version = 5");
  const Rows stored = dir.query("SELECT key, uuid, hash FROM instances ORDER BY key");
  // Read-only views read it as it is and write nothing.
  auto r = dir.ochre({"plan", "pipeline.lua"}, {{"PW", "hunter2"}});
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  CHECK(dir.query("SELECT count(*) FROM sqlite_master WHERE name = 'meta'") == Rows{"0"});
  // A run with nothing to do writes nothing: the stored ids stand.
  r = dir.ochre({"run", "pipeline.lua"}, {{"PW", "hunter2"}});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  CHECK(dir.query("SELECT key, uuid, hash FROM instances ORDER BY key") == stored);
  // The next run that writes migrates it and gives it a key. The instance with a
  // sensitive field that changed is hashed anew, with the key: its ids move on (here its
  // password breaks, so it is replaced); the plain one keeps its ids.
  r = dir.ochre({"run", "pipeline.lua"}, {{"PW", "hunter2"}, {"DBUSER", "root"}});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.query("SELECT length(value) FROM meta WHERE name = 'hash_key'") == Rows{"64"});
  Rows now = dir.query("SELECT key, uuid, hash FROM instances ORDER BY key");
  REQUIRE(now.size() == 2);
  CHECK(now[0] != stored[0]);
  CHECK(now[1] == stored[1]);
  r = dir.ochre({"plan", "pipeline.lua"}, {{"PW", "hunter2"}, {"DBUSER", "root"}});
  CHECK(r.out.find("No changes needed") != std::string::npos);
}
