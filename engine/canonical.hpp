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
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine/json_output.hpp"  // to_json, for the callers that know it from here
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
  PackedFields(Fields fields) : fields_(std::make_unique<Fields>(std::move(fields))) {}
  PackedFields(std::initializer_list<std::pair<std::string, Value>> fields)
      : fields_(std::make_unique<Fields>(fields)) {}
  PackedFields(const PackedFields& o)
      : encoded_(o.encoded_), fields_(o.fields_ ? std::make_unique<Fields>(*o.fields_) : nullptr),
        packed_(o.packed_) {}
  // A moved-from one is empty, as a default one is.
  PackedFields(PackedFields&& o) noexcept
      : encoded_(std::move(o.encoded_)), fields_(std::move(o.fields_)), packed_(std::exchange(o.packed_, false)) {}
  PackedFields& operator=(const PackedFields& o) {
    if (this != &o) *this = PackedFields(o);
    return *this;
  }
  PackedFields& operator=(PackedFields&& o) noexcept {
    encoded_ = std::move(o.encoded_);
    fields_ = std::move(o.fields_);
    packed_ = std::exchange(o.packed_, false);
    return *this;
  }
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
    if (packed_) fields_.reset();
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
  // Held by every stored instance and every graph node: the decoded fields, which few
  // of them ever need, are kept behind a pointer (null until decoded) to keep it small.
  std::string encoded_;
  mutable std::unique_ptr<Fields> fields_;
  bool packed_ = false;
};

// Fields as a map value (string keys) and back.
Value fields_to_value(const Fields& fields);
Fields value_to_fields(const Value& v);
Fields value_to_fields(Value&& v);  // moves the entries

// A short, readable rendering for people: Lua-like literals, refs as Type/identifier.
std::string display(const Value& v, size_t max_len = 120);

// A quoted literal for people and for Graphviz DOT: `"` and `\\` escaped, \n \r \t as
// such, other control bytes as \u00XX, every other byte as it is. Not JSON (the bytes are
// not checked for UTF-8): machine output is written by engine/json_output.hpp.
std::string quote_literal(std::string_view s);

}  // namespace ochre
