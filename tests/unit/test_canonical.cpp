// The canonical encoding and Python's float repr.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "ochre/errors.hpp"

using namespace ochre;
using namespace std::string_literals;

TEST_CASE("python_float_repr matches Python's repr", "[canonical][hash]") {
  CHECK(python_float_repr(0.75) == "0.75");
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1e15) == "1000000000000000.0");
  CHECK(python_float_repr(1.5e300) == "1.5e+300");
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(-2.5) == "-2.5");
  CHECK(python_float_repr(9007199254740994.0) == "9007199254740994.0");
  CHECK(python_float_repr(123456789.125) == "123456789.125");
  CHECK(python_float_repr(1.0 / 3) == "0.3333333333333333");
  CHECK(python_float_repr(5e-324) == "5e-324");
}

TEST_CASE("integers up to 2^53 hash as <int>", "[canonical][hash]") {
  CHECK(is_hash_integer(0));
  CHECK(is_hash_integer(-0.0));
  CHECK(is_hash_integer(9007199254740992.0));
  CHECK_FALSE(is_hash_integer(9007199254740994.0));
  CHECK_FALSE(is_hash_integer(0.5));
  CHECK_FALSE(is_hash_integer(NAN));
  IdLookup none = [](const std::string&, Tree) -> const std::string& { throw 1; };
  CHECK(digest(Value::of_number(3.0), Tree::Full, none) == sha256_hex("<int>3"));
  CHECK(digest(Value::of_number(-0.0), Tree::Full, none) == sha256_hex("<int>0"));
  CHECK(digest(Value::of_number(2.5), Tree::Full, none) == sha256_hex("<float>2.5"));
  CHECK(digest(Value::of_bool(true), Tree::Full, none) == sha256_hex("<int>True"));
  CHECK(digest(Value::nil(), Tree::Full, none) == sha256_hex("<NoneType>None"));
}

TEST_CASE("sha256_hex is libcrypto's SHA-256", "[hash]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

namespace {

Value sample() {
  Value m = Value::map();
  m.entries.emplace_back(Value::of_string("b"), Value::of_number(2.5));
  m.entries.emplace_back(Value::of_string("a"), Value::of_string("x:y\0z"s));
  Value arr = Value::array();
  arr.items.push_back(Value::nil());
  arr.items.push_back(Value::of_bool(false));
  arr.items.push_back(Value::of_ref("Leaf/a/b"));
  arr.items.push_back(Value::of_number(-7));
  m.entries.emplace_back(Value::of_string("list"), arr);
  Value nums = Value::map();
  nums.entries.emplace_back(Value::of_number(10), Value::of_string("ten"));
  nums.entries.emplace_back(Value::of_number(2), Value::of_string("two"));
  nums.sort_entries();
  m.entries.emplace_back(Value::of_string("nums"), nums);
  m.sort_entries();
  return m;
}

}  // namespace

TEST_CASE("encode is deterministic and decode reverses it", "[canonical]") {
  Value v = sample();
  std::string bytes = encode(v);
  CHECK(bytes == "m1:a5:x:y\0z1:bd2.5e4:listlnfr8:Leaf/a/bi-7ee4:numsmi2e3:twoi10e3:tenee"s);
  CHECK(decode(bytes) == v);
  CHECK(encode(decode(bytes)) == bytes);
}

TEST_CASE("damaged encodings are state errors, not crashes", "[canonical]") {
  for (std::string bad : {"", "x", "l", "5:ab", "i12", "m1:a", "99999999999999999999:a", "le trailing"}) {
    INFO(bad);
    CHECK_THROWS_AS(decode(bad), Error);
  }
}

TEST_CASE("display renders Lua-like literals", "[canonical]") {
  CHECK(display(sample()) ==
        "{a = \"x:y\\u0000z\", b = 2.5, list = {nil, false, Leaf/a/b, -7}, nums = {[2] = \"two\", [10] = \"ten\"}}");
  CHECK(to_json(sample()) ==
        "{\"a\":\"x:y\\u0000z\",\"b\":2.5,\"list\":[null,false,{\"$ref\":\"Leaf/a/b\"},-7],\"nums\":{\"2\":\"two\",\"10\":\"ten\"}}");
}

TEST_CASE("floats with an exponent read back (regression: d1e-05e was cut at its first e)", "[canonical]") {
  for (double x : {1e-05, 1e16, 1.5e300, -2.5e-300, 0.75, 9007199254740994.0}) {
    Value a = Value::array();
    a.items.push_back(Value::of_number(x));
    a.items.push_back(Value::of_string("5:x"));
    a.items.push_back(Value::of_number(12));
    Value m = Value::map();
    m.entries.emplace_back(Value::of_string("e"), a);
    std::string bytes = encode(m);
    INFO(bytes);
    CHECK(decode(bytes) == m);
  }
}
