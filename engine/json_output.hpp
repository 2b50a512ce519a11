// Machine output: --json (plan, state list and show, log, history), webhook bodies,
// ochre.json.encode. Built as nlohmann::ordered_json (members in the order added) and
// written by write_json, or written as it goes by a JsonWriter, with nlohmann's
// serializer: compact, no spaces, UTF-8 as is, and
//   - strings: `"` `\` and control characters escaped (\b \f \n \r \t by name, others as
//     \u00XX); a byte that is not part of valid UTF-8 (a stray continuation byte, each
//     byte of a sequence cut short, an overlong or surrogate encoding, past U+10FFFF)
//     becomes U+FFFD, one for each such byte, so the text is always valid UTF-8 JSON;
//   - numbers: integral values of magnitude below 2^63 with all their digits (past 2^53
//     exactly as the double holds them), others in Python's repr, the shortest text that
//     reads back to the same double ("2.5", "1e-05", "1e+19"); NaN and infinities as null.
// docs/hashing.md, "Machine output", says the same for users.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/short_text.hpp"
#include "ochre/value.hpp"

namespace ochre {

using Json = nlohmann::ordered_json;

// A value as JSON: refs as {"$ref": "Type/identifier"}; maps become objects, number keys
// written as numbers are (above).
Json json_of(const Value& v);
// Appends the JSON text of `j` to `out`.
void write_json(const Json& j, std::string& out);
std::string dump_json(const Json& j);
// dump_json(json_of(v)).
std::string to_json(const Value& v);
// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD (as above).
std::string valid_utf8(std::string_view text);

// Appends JSON text to `out` as it goes, for outputs too large to build as one tree (a
// plan of 100,000 instances): the text write_json makes of the same tree. Places the
// commas itself:
//   w.begin_object(); w.member("key", key); w.key("deps"); w.begin_array(); ...
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out);
  ~JsonWriter();
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view name);  // a member's name; its value comes next

  void null();
  void value(bool b);
  void value(double x);
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  void value(T n) {
    if constexpr (std::is_signed_v<T>) integer(n);
    else unsigned_integer(n);
  }
  void value(std::string_view s);
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(const char* s) { value(std::string_view(s)); }
  template <size_t N>
  void value(const ShortText<N>& s) { value(s.view()); }
  void value(const Value& v);     // as json_of(v)
  void value(const Fields& fields);  // as a map of string keys
  void value(const Json& j);
  template <class T>
  void value(const std::vector<T>& items) {
    begin_array();
    for (const T& item : items) value(item);
    end_array();
  }
  template <class T>
  void member(std::string_view name, const T& v) {
    key(name);
    value(v);
  }

 private:
  void separate();  // the comma before every item of a container but its first
  void integer(long long n);
  void unsigned_integer(unsigned long long n);
  void string(std::string_view s);

  struct Impl;  // nlohmann's serializer and the string it writes from
  std::unique_ptr<Impl> impl_;
  std::string& out_;
  std::vector<bool> first_;  // for each open container: no item written yet
  bool after_key_ = false;
};

}  // namespace ochre
