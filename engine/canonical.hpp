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
#include <string>
#include <string_view>

#include "ochre/value.hpp"

namespace ochre {

constexpr int canonical_version = 1;

std::string encode(const Value& v);
void encode_to(const Value& v, std::string& out);
// Throws Error(Code::State) on malformed input.
Value decode(std::string_view bytes);

// encode(fields_to_value(fields)), without the copy.
std::string encode_fields(const Fields& fields);

// Fields as a map value (string keys) and back.
Value fields_to_value(const Fields& fields);
Fields value_to_fields(const Value& v);
Fields value_to_fields(Value&& v);  // moves the entries

// A short, readable rendering for people: Lua-like literals, refs as Type/identifier.
std::string display(const Value& v, size_t max_len = 120);

// JSON text of a value: refs as {"$ref": "Type/identifier"}, maps with number keys
// become objects with the numbers as text.
std::string to_json(const Value& v);
// A JSON string literal with escapes.
std::string json_quote(std::string_view s);

}  // namespace ochre
