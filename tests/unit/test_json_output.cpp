// Machine output (--json, webhook bodies, ochre.json.encode): json_of, write_json and
// JsonWriter.
// Always valid UTF-8 JSON, integers exact, floats in Python's repr, members in order.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/canonical.hpp"
#include "engine/json_output.hpp"
#include "engine/notify.hpp"

using namespace ochre;
using namespace std::string_literals;

namespace {

Value map_of(std::initializer_list<std::pair<const char*, Value>> entries) {
  Value m = Value::map();
  for (const auto& [k, v] : entries) m.entries.emplace_back(Value::of_string(k), v);
  return m;
}

}  // namespace

TEST_CASE("bytes that are not UTF-8 become U+FFFD, one for each byte", "[json]") {
  // A stray continuation byte, a lead byte cut short, an overlong '/', a surrogate, past
  // U+10FFFF; valid text around them stays as it is.
  std::string bad = "a\x80 b\xe2\x82 c\xc0\xaf d\xed\xa0\x80 e\xf4\x90\x80\x80 \xe2\x82\xac"s;
  std::string out = to_json(Value::of_string(bad));
  const std::string r = "\xef\xbf\xbd";
  CHECK(out == "\"a" + r + " b" + r + r + " c" + r + r + " d" + r + r + r + " e" + r + r + r + r +
                   " \xe2\x82\xac\"");
  auto parsed = nlohmann::json::parse(out);  // throws on invalid UTF-8
  CHECK(parsed.get<std::string>() == valid_utf8(bad));
  // In keys too, and at the end of a string.
  Value m = Value::map();
  m.entries.emplace_back(Value::of_string("k\xff"), Value::of_string("v\xc3"));
  CHECK(to_json(m) == "{\"k" + r + "\":\"v" + r + "\"}");
  CHECK_NOTHROW(nlohmann::json::parse(to_json(m)));
}

TEST_CASE("valid UTF-8 and escapes are written as before", "[json]") {
  CHECK(to_json(Value::of_string("caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ \n\r\t\x01\x7f")) ==
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\\"q\\\" \\\\ \\n\\r\\t\\u0001\x7f\"");
  CHECK(to_json(Value::of_string("x:y\0z"s)) == "\"x:y\\u0000z\"");
  CHECK(valid_utf8("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("integral numbers are written with all their digits", "[json]") {
  CHECK(to_json(Value::of_number(0)) == "0");
  CHECK(to_json(Value::of_number(-0.0)) == "0");
  CHECK(to_json(Value::of_number(-7)) == "-7");
  CHECK(to_json(Value::of_number(9007199254740992.0)) == "9007199254740992");  // 2^53
  // Past 2^53, exactly as the double holds them (2^53 + 2, 2^60, 2^62 + 2^10).
  CHECK(to_json(Value::of_number(9007199254740994.0)) == "9007199254740994");
  CHECK(to_json(Value::of_number(std::ldexp(1.0, 60))) == "1152921504606846976");
  CHECK(to_json(Value::of_number(std::ldexp(1.0, 62) + 1024)) == "4611686018427388928");
  CHECK(to_json(Value::of_number(-std::ldexp(1.0, 63))) == "-9223372036854775808");
  // From 2^63 on, no integer type holds them: Python's repr.
  CHECK(to_json(Value::of_number(std::ldexp(1.0, 63))) == "9.223372036854776e+18");
  CHECK(to_json(Value::of_number(1e19)) == "1e+19");
  auto parsed = nlohmann::json::parse(to_json(Value::of_number(std::ldexp(1.0, 60))));
  CHECK(parsed.get<std::int64_t>() == (std::int64_t{1} << 60));
}

TEST_CASE("other numbers are written in Python's repr", "[json]") {
  CHECK(to_json(Value::of_number(2.5)) == "2.5");
  CHECK(to_json(Value::of_number(0.1)) == "0.1");
  CHECK(to_json(Value::of_number(1e-05)) == "1e-05");
  CHECK(to_json(Value::of_number(1.0 / 3)) == "0.3333333333333333");
  // The shortest digits, where nlohmann's own writer (Grisu2) gives 17.
  CHECK(to_json(Value::of_number(161018.4955907853)) == "161018.4955907853");
  // Fixed notation up to 16 digits before the point, as Python writes them.
  CHECK(to_json(Value::of_number(1238149735313913.2)) == "1238149735313913.2");
  CHECK(nlohmann::json::parse(to_json(Value::of_number(1e-05))).get<double>() == 1e-05);
  // Not JSON numbers: null.
  CHECK(dump_json(Json(std::numeric_limits<double>::quiet_NaN())) == "null");
  CHECK(dump_json(Json(std::numeric_limits<double>::infinity())) == "null");
}

TEST_CASE("nested maps and lists, refs, members in the order given", "[json]") {
  Value list = Value::array();
  list.items.push_back(Value::nil());
  list.items.push_back(Value::of_bool(true));
  list.items.push_back(Value::of_ref("Leaf/a"));
  list.items.push_back(map_of({{"z", Value::of_number(1)}, {"a", Value::array()}}));
  Value nums = Value::map();
  nums.entries.emplace_back(Value::of_number(10), Value::of_string("ten"));
  nums.entries.emplace_back(Value::of_number(2), Value::of_string("two"));
  nums.entries.emplace_back(Value::of_number(0.5), Value::of_string("half"));
  Value v = map_of({{"zeta", list}, {"alpha", nums}, {"mid", Value::map()}});
  std::string out = to_json(v);
  CHECK(out ==
        "{\"zeta\":[null,true,{\"$ref\":\"Leaf/a\"},{\"z\":1,\"a\":[]}],"
        "\"alpha\":{\"10\":\"ten\",\"2\":\"two\",\"0.5\":\"half\"},\"mid\":{}}");
  // It reads back, members in the same order.
  auto parsed = nlohmann::ordered_json::parse(out);
  CHECK(parsed.dump() == out);
  CHECK(parsed.begin().key() == "zeta");

  // Built by hand, as the --json writers do: the order of the initializer.
  Json built{{"version", 1}, {"b", "x"}, {"a", Json::array({1, 2.5, "s", false, nullptr})}, {"n", json_of(v)}};
  CHECK(dump_json(built) == "{\"version\":1,\"b\":\"x\",\"a\":[1,2.5,\"s\",false,null],\"n\":" + out + "}");
  std::string appended = "[";
  write_json(Json{{"k", "v"}}, appended);
  CHECK(appended == "[{\"k\":\"v\"}");
}

TEST_CASE("JsonWriter writes what write_json writes of the same tree", "[json]") {
  Value v = map_of({{"s", Value::of_string("a\xff\"")}, {"n", Value::of_number(std::ldexp(1.0, 60))},
                    {"f", Value::of_number(0.1)}, {"r", Value::of_ref("T/x")}});
  Fields fields = {{"a", Value::of_number(1)}, {"b", Value::array()}};
  std::string streamed;
  JsonWriter w(streamed);
  w.begin_object();
  w.member("version", 1);
  w.member("count", size_t{3});
  w.member("ok", true);
  w.member("text", "t\n");
  w.key("none");
  w.null();
  w.member("value", v);
  w.member("fields", fields);
  w.member("ints", std::vector<int>{1, -2});
  w.member("keys", std::vector<std::string>{"x", "k\xc3"});
  w.key("list");
  w.begin_array();
  w.value(2.5);
  w.begin_object();
  w.end_object();
  w.value(Json{{"k", nullptr}});
  w.end_array();
  w.member("k\xff", 0);
  w.end_object();

  Json tree{{"version", 1},
            {"count", size_t{3}},
            {"ok", true},
            {"text", "t\n"},
            {"none", nullptr},
            {"value", json_of(v)},
            {"fields", json_of(fields_to_value(fields))},
            {"ints", {1, -2}},
            {"keys", {"x", "k\xc3"}},
            {"list", Json::array({2.5, Json::object(), Json{{"k", nullptr}}})},
            {"k\xff", 0}};
  CHECK(streamed == dump_json(tree));
  CHECK(streamed.rfind("{\"version\":1,\"count\":3,\"ok\":true,\"text\":\"t\\n\",\"none\":null,\"value\":{", 0) == 0);
  CHECK_NOTHROW(nlohmann::json::parse(streamed));
}

TEST_CASE("a webhook body: the common members, then the event's, in order", "[json][notify]") {
  Notifier n({Endpoint{"http://127.0.0.1:9/hook", "s", {}}}, "/srv/p\xffipeline.lua", "apply");
  auto rows = n.make("job.failed", 7, JsonMembers().add("key", "T/a").add("error", "bad \xc3").add("jobs", 3));
  REQUIRE(rows.size() == 1);
  const std::string& body = rows[0].body;
  std::string at = nlohmann::json::parse(body)["at"];
  CHECK(body == "{\"id\":\"" + rows[0].id + "\",\"event\":\"job.failed\",\"at\":\"" + at +
                    "\",\"run\":7,\"source\":\"/srv/p\xef\xbf\xbdipeline.lua\",\"command\":\"apply\","
                    "\"key\":\"T/a\",\"error\":\"bad \xef\xbf\xbd\",\"jobs\":3}");
}
