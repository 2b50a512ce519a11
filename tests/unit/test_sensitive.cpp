// Sensitive fields in the engine: masking given the declared names, and the names
// reaching the displays from Lua types and from a host's native types.
#include <catch2/catch.hpp>

#include <filesystem>

#include "engine/sensitive.hpp"
#include "ochre/ochre.hpp"

using namespace ochre;

TEST_CASE("mask_fields replaces only the declared fields of the declared type", "[sensitive]") {
  Sensitive s = {{"Db", {"password", "token"}}};
  Fields f = {{"identifier", Value::of_string("main")},
              {"password", Value::of_string("hunter2")},
              {"user", Value::of_string("admin")}};
  Fields m = mask_fields(f, s, "Db");
  CHECK(m[0].second.text == "main");
  CHECK(m[1].second.text == "(sensitive)");
  CHECK(m[2].second.text == "admin");
  CHECK(mask_fields(f, s, "Other") == f);
  CHECK(mask_fields(f, {}, "Db") == f);
  CHECK(is_sensitive(s, "Db", "token"));
  CHECK_FALSE(is_sensitive(s, "Db", "user"));
  CHECK_FALSE(is_sensitive(s, "Dbx", "token"));
}

TEST_CASE("a host's native type declares sensitive fields: plan_json and explain mask them",
          "[sensitive][embed]") {
  Options o;
  o.state_path = ":memory:";
  o.output = [](std::string_view) {};
  o.job_output = [](const std::string&, std::string_view) {};
  Engine engine(o);
  NativeType t;
  t.name = "Secret";
  t.fields = {{"label", Value::of_string("x")}};
  t.required = {"key"};
  t.sensitive = {"key"};
  t.create = [](const Instance&) { return Value::map(); };
  engine.define_type(t);
  engine.load_string(R"(local ochre = require "ochre"
return ochre.Secret "s" { key = "hunter2", label = "visible" })");
  engine.plan();
  std::string json = engine.plan_json();
  CHECK(json.find("hunter2") == std::string::npos);
  CHECK(json.find("\"key\":\"(sensitive)\"") != std::string::npos);
  CHECK(json.find("\"label\":\"visible\"") != std::string::npos);
  CHECK(engine.apply().exit_code() == 0);

  Engine again(o);
  again.define_type(t);
  CHECK_THROWS_AS(again.load_string(R"(local ochre = require "ochre"
local Bad = ochre.component "Bad" { sensitive = { "nope" }, fields = { key = 1 } })"), Error);
}

TEST_CASE("a Lua type's sensitive fields: explain masks them, the ids still change", "[sensitive]") {
  std::string dir = (std::filesystem::temp_directory_path() / "ochre-sensitive-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()));
  Options o;
  o.state_path = dir + "/state.db";
  o.output = [](std::string_view) {};
  o.job_output = [](const std::string&, std::string_view) {};
  const std::string type = R"(local ochre = require "ochre"
local Db = ochre.component "Db" { sensitive = { "password" }, fields = { password = "" } }
)";
  {
    Engine engine(o);
    engine.load_string(type + "return Db \"d\" { password = \"one-secret\" }");
    engine.plan();
    REQUIRE(engine.apply().exit_code() == 0);
  }
  {
    Engine engine(o);
    engine.load_string(type + "return Db \"d\" { password = \"two-secret\" }");
    engine.plan();
    REQUIRE(engine.jobs().size() == 1);
    CHECK(engine.jobs()[0].action == "update");
    CHECK(engine.explain("Db/d") == "Db/d: UPDATE (changed: password)\n  password: (sensitive) -> (sensitive)\n");
    CHECK(engine.plan_json().find("secret") == std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
