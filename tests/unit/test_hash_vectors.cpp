// Golden ids computed by the original Python ochre: every case must match.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "engine/hash.hpp"
#include "ochre/ochre.hpp"

namespace {

nlohmann::json load_vectors() {
  std::string path = std::filesystem::exists(OCHRE_SHARED_VECTORS) ? OCHRE_SHARED_VECTORS
                                                                    : OCHRE_REPO_VECTORS;
  std::ifstream in(path);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

void check_vectors(const nlohmann::json& doc) {
  REQUIRE(doc["cases"].size() >= 31);
  for (const auto& c : doc["cases"]) {
    std::string name = c["name"];
    INFO("case: " << name);
    ochre::Options opts;
    opts.state_path = "/nonexistent/ochre-hash-vectors.db";
    ochre::Engine engine(opts);
    engine.load_string("local ochre = require \"ochre\"\n" + c["lua"].get<std::string>(), "case.lua");
    engine.plan();
    auto plan = nlohmann::json::parse(engine.plan_json());
    std::map<std::string, std::pair<std::string, std::string>> got;
    for (const auto& n : plan["nodes"]) got[n["key"]] = {n["uuid"], n["hash"]};
    REQUIRE(got.size() == c["expect"].size());
    for (const auto& e : c["expect"]) {
      std::string key = e["key"];
      INFO("instance: " << key);
      REQUIRE(got.count(key));
      CHECK(got[key].first == e["uuid"].get<std::string>());
      CHECK(got[key].second == e["hash"].get<std::string>());
    }
  }
}

}  // namespace

TEST_CASE("hash vectors of the original match", "[hash][golden]") {
  check_vectors(load_vectors());
}

TEST_CASE("the repository's copy of the vectors matches too", "[hash][golden]") {
  std::ifstream in(OCHRE_REPO_VECTORS);
  REQUIRE(in);
  check_vectors(nlohmann::json::parse(in));
}

TEST_CASE("a state's key changes the ids of sensitive values only", "[hash][hash-key]") {
  ochre::IdLookup none = [](const std::string&, ochre::Tree) -> const std::string& {
    static const std::string empty;
    return empty;
  };
  ochre::Fields fields{{"identifier", ochre::Value::of_string("a")}, {"password", ochre::Value::of_string("hunter2")},
                       {"user", ochre::Value::of_string("admin")}};
  const std::vector<std::string> breaks{"password"}, sensitive{"password"};
  auto plain = ochre::compute_ids("Db", "a", breaks, fields, none);
  // No key, or no sensitive field: the scheme's ids.
  CHECK(ochre::compute_ids("Db", "a", breaks, fields, none, sensitive, "").hash == plain.hash);
  CHECK(ochre::compute_ids("Db", "a", breaks, fields, none, {}, "k1").hash == plain.hash);
  auto k1 = ochre::compute_ids("Db", "a", breaks, fields, none, sensitive, "k1");
  auto k2 = ochre::compute_ids("Db", "a", breaks, fields, none, sensitive, "k2");
  CHECK(k1.uuid != plain.uuid);
  CHECK(k1.uuid != k2.uuid);
  CHECK(k1.hash.view().substr(0, 32) != plain.hash.view().substr(0, 32));
  CHECK(k1.hash.view().substr(32) == plain.hash.view().substr(32));  // "user" is not sensitive
  CHECK(ochre::new_hash_key().size() == 64);
  CHECK(ochre::new_hash_key() != ochre::new_hash_key());
}
