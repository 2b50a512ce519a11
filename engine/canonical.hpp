// The canonical encoding of values, used to store fields and outputs in the state and
// to compare them. Version 1 is bencode extended with nil, booleans, floats and refs:
//
//   n            nil                 t / f        true / false
//   i<int>e      integral |x|<=2^53  d<repr>e     any other number (Python repr text)
//   <len>:<b>    byte string         r<len>:<k>   reference to instance key k
//   l...e        array               m...e        map, entries as key value, keys sorted
//
// Deterministic: the same value always encodes to the same bytes.
#pragma once
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "ochre/value.hpp"

namespace ochre {

constexpr int canonical_version = 1;

std::string encode(const Value& v);
void encode_to(const Value& v, std::string& out);
// The parts, for encoders of other representations (the bindings encode Lua values).
void encode_number(double x, std::string& out);      // a finite number
void encode_string(std::string_view s, std::string& out);  // also a ref's key, after 'r'
// Throws Error(Code::State) on malformed input.
Value decode(std::string_view bytes);

// encode(fields_to_value(fields)), without the copy.
std::string encode_fields(const Fields& fields);
void encode_fields_to(const Fields& fields, std::string& out);
// Throws like decode() unless `bytes` is a whole canonical encoding of fields (a map
// with string keys). Builds nothing.
void check_fields(std::string_view bytes);

// Fields, used as a `const Fields&`, that may be kept packed in their canonical encoding
// (encode_fields) until they are read: a plan of 100,000 instances compares most of them
// with what the state holds and looks at few, and the encoding compares without being
// decoded (or even made: the bindings encode a pipeline's fields straight from Lua). They
// are decoded the first time they are read as Fields.
class PackedFields {
 public:
  PackedFields() = default;
  PackedFields(Fields fields) : fields_(std::move(fields)) {}
  PackedFields(std::initializer_list<std::pair<std::string, Value>> fields) : fields_(fields) {}
  // Fields given by their canonical encoding, known to be whole (check_fields).
  static PackedFields packed(std::string bytes);

  const Fields& get() const;
  operator const Fields&() const { return get(); }
  Fields& edit();  // decoded, to be changed
  Fields::const_iterator begin() const { return get().begin(); }
  Fields::const_iterator end() const { return get().end(); }
  Fields::iterator begin() { return edit().begin(); }
  Fields::iterator end() { return edit().end(); }
  size_t size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const std::pair<std::string, Value>& operator[](size_t i) const { return get()[i]; }
  // Frees the decoded copy while the encoding stays (read again, they decode again):
  // logically const, as the decoding is.
  void drop_decoded() const {
    if (!packed_) return;
    Fields().swap(fields_);
    decoded_ = false;
  }
  // The canonical encoding, unless they were given decoded or changed since.
  const std::string* encoding() const { return packed_ ? &encoded_ : nullptr; }
  // Equal encodings are equal fields (the encoding is canonical): no decoding then.
  friend bool operator==(const PackedFields& a, const PackedFields& b) {
    if (a.packed_ && b.packed_) return a.encoded_ == b.encoded_;
    return a.get() == b.get();
  }
  friend bool operator!=(const PackedFields& a, const PackedFields& b) { return !(a == b); }

 private:
  mutable Fields fields_;
  mutable bool decoded_ = true;
  bool packed_ = false;
  std::string encoded_;
};

// Fields as a map value (string keys) and back.
Value fields_to_value(const Fields& fields);
Fields value_to_fields(const Value& v);
Fields value_to_fields(Value&& v);  // moves the entries

// A short, readable rendering for people: Lua-like literals, refs as Type/identifier.
std::string display(const Value& v, size_t max_len = 120);

// A quoted literal for people and for Graphviz DOT: `"` and `\\` escaped, \n \r \t as
// such, other control bytes as \u00XX, every other byte as it is. Not JSON (the bytes are
// not checked for UTF-8): machine output is written by write_json.
std::string quote_literal(std::string_view s);

// ---- Machine output: --json, webhook bodies, ochre.json.encode -------------------------
//
// Built as nlohmann::ordered_json (members in the order added, as they are written) and
// written by write_json with nlohmann's serializer: compact, no spaces, UTF-8 as is, and
//   - strings: `"` `\\` and control characters escaped (\b \f \n \r \t by name, others as
//     \u00XX); a byte that is not part of valid UTF-8 (a stray continuation byte, a
//     truncated sequence's bytes, an overlong or surrogate encoding, past U+10FFFF)
//     becomes U+FFFD, one for each such byte, so the text is always valid UTF-8 JSON;
//   - numbers: integral values of magnitude below 2^63 with all their digits (past 2^53
//     exactly as the double holds them), others in Python's repr, the shortest text that
//     reads back to the same double ("2.5", "1e-05", "1e+19"); NaN and infinities as null.
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

}  // namespace ochre
