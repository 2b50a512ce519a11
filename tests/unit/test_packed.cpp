// Fields packed in their canonical encoding: encoding straight from Lua gives the bytes
// encoding the converted Value gives, with the same errors; PackedFields decodes on
// demand and compares by encoding.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "bindings/convert.hpp"
#include "engine/canonical.hpp"
#include "ochre/errors.hpp"
#include "ochre/ochre.hpp"

using namespace ochre;
using namespace ochre::lua;

namespace {

// A Lua state where `v` is a global set by `code`, and `inst` an instance-like table:
// a metatable with __ochre_type, as the DSL's instances have.
struct Lua {
  LuaState state;
  lua_State* L = state.get();
  explicit Lua(const std::string& code) {
    std::string chunk = "inst = setmetatable({}, { __ochre_type = true })\n" + code;
    REQUIRE(luaL_dostring(L, chunk.c_str()) == 0);
    lua_getglobal(L, "v");
  }
};

std::string encoded(lua_State* L) {
  std::string out;
  encode_value(L, -1, [](int) { return std::string_view("Leaf/a"); }, "f", out);
  return out;
}

std::string converted(lua_State* L) {
  return encode(to_value(L, -1, [](int) { return std::string("Leaf/a"); }, "f"));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("encoding from Lua gives the bytes of encoding the converted value", "[canonical][packed]") {
  for (const char* code : {
           "v = nil", "v = true", "v = false", "v = 0", "v = -0.0", "v = 3", "v = 2^53", "v = 2^53 + 2",
           "v = 0.1", "v = 1e-05", "v = -1.5e300", "v = 'x:y\\0z'", "v = ''", "v = {}",
           "v = {1, 2, 'three', {4}}", "v = {[2] = 'b', [1] = 'a'}", "v = {[3] = 'c', [1] = 'a'}",
           "v = {[10] = 'ten', [2] = 'two', [-1] = 'minus', [0.5] = 'half'}",
           "v = {b = 1, a = {z = true, y = {}}, ['a b'] = 2, [''] = 3}",
           "v = {list = {inst, {inst}}, ref = inst}", "v = inst",
       }) {
    INFO(code);
    Lua lua(code);
    CHECK(encoded(lua.L) == converted(lua.L));
    CHECK(lua_gettop(lua.L) == 1);
  }
}

TEST_CASE("encoding from Lua refuses what conversion refuses, with its message", "[canonical][packed]") {
  for (const char* code : {
           "v = {f = print}", "v = {0/0}", "v = {a = {[1/0] = 1}}", "v = {1, x = 2}",
           "v = {[true] = 1}", "v = setmetatable({}, {})", "v = {} v.self = v", "v = {a = {b = {1/0}}}",
       }) {
    INFO(code);
    Lua lua(code);
    std::string from_lua = error_of([&] { encoded(lua.L); });
    CHECK(from_lua == error_of([&] { converted(lua.L); }));
    CHECK(from_lua != "(no error)");
    CHECK(lua_gettop(lua.L) == 1);
  }
}

TEST_CASE("packed fields decode on first read and compare by their encodings", "[canonical][packed]") {
  Fields fields{{"identifier", Value::of_string("a")}, {"n", Value::of_number(1.5)}};
  std::string bytes = encode_fields(fields);
  CHECK(bytes == encode(fields_to_value(fields)));

  PackedFields packed = PackedFields::packed(bytes);
  REQUIRE(packed.encoding() != nullptr);
  CHECK(*packed.encoding() == bytes);
  CHECK(packed == PackedFields::packed(bytes));
  CHECK(packed != PackedFields::packed(encode_fields({{"identifier", Value::of_string("b")}})));
  CHECK(packed == PackedFields(fields));  // one side decoded: compared as Fields
  CHECK(packed.get() == fields);
  CHECK(packed.encoding() != nullptr);  // reading keeps the encoding

  packed.edit()[1].second = Value::of_number(2);
  CHECK(packed.encoding() == nullptr);  // a change drops it
  CHECK(packed != PackedFields(fields));
}

TEST_CASE("check_fields accepts whole encodings of fields only", "[canonical][packed]") {
  CHECK_NOTHROW(check_fields(encode_fields({{"a", Value::of_number(1)}, {"b", Value::array()}})));
  CHECK_NOTHROW(check_fields("me"));
  CHECK_NOTHROW(check_fields("m1:ai-5e1:bd0.5e1:clr3:T/xntee"));
  for (std::string bad : {"", "le", "i1e", "m1:a", "m1:ai1e", "mi1ei2ee", "m1:ai1ee trailing", "m1:ai12",
                          "m1:aiee", "m1:ai-ee", "m1:ai1xee", "m1:ad1.5.5ee", "m1:ax1:bnee", "m1:al"}) {
    INFO(bad);
    CHECK_THROWS_AS(check_fields(bad), Error);
  }
}

TEST_CASE("a node's deps from its packed fields come in the order finalize gives refs", "[canonical][packed]") {
  // By field name, then depth first through lists in order and maps by key; each once.
  ochre::Options opts;
  opts.state_path = "/nonexistent/ochre-packed-deps.db";  // read-only: nothing stored
  ochre::Engine engine(opts);
  engine.load_string(R"(local ochre = require "ochre"
local T = ochre.component "T" { fields = { m = {}, x = {} } }
local a, b, c = ochre.Component "a", ochre.Component "b", ochre.Component "c"
return T "t" { x = { c, a }, m = { z = a, b = b } }
)", "deps.lua");
  engine.plan();
  auto plan = nlohmann::json::parse(engine.plan_json());
  nlohmann::json deps;
  for (const auto& n : plan["nodes"])
    if (n["key"] == "T/t") deps = n["deps"];
  CHECK(deps == nlohmann::json::array({"Component/b", "Component/a", "Component/c"}));
}
