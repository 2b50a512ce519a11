// The value model: what a component field may hold, mirrored from Lua without Lua.
// nil, booleans, numbers, byte strings, arrays, maps with sorted keys, and references
// to other component instances (by their key "Type/identifier").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ochre {

struct Value {
  enum class Kind : std::uint8_t { Nil, Bool, Number, String, Array, Map, Ref };

  Kind kind = Kind::Nil;
  bool boolean = false;
  double number = 0;
  std::string text;                             // String bytes, or a Ref's key
  std::vector<Value> items;                     // Array elements
  std::vector<std::pair<Value, Value>> entries;  // Map entries, sorted by key_less

  // Declared here, defaulted below where Value is complete: clang with libstdc++ cannot
  // instantiate std::pair<Value, Value> (entries) while Value is still incomplete.
  Value();
  Value(const Value&);
  Value(Value&&) noexcept;
  Value& operator=(const Value&);
  Value& operator=(Value&&) noexcept;
  ~Value();

  static Value nil() { return {}; }
  static Value of_bool(bool b) { Value v; v.kind = Kind::Bool; v.boolean = b; return v; }
  static Value of_number(double n) { Value v; v.kind = Kind::Number; v.number = n; return v; }
  static Value of_string(std::string s) { Value v; v.kind = Kind::String; v.text = std::move(s); return v; }
  static Value of_ref(std::string key) { Value v; v.kind = Kind::Ref; v.text = std::move(key); return v; }
  static Value array() { Value v; v.kind = Kind::Array; return v; }
  static Value map() { Value v; v.kind = Kind::Map; return v; }

  bool is_nil() const { return kind == Kind::Nil; }
  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }
  // Sorts a map's entries by key; call after filling `entries`.
  void sort_entries();
  // The value stored under `key` in a map, or nullptr.
  const Value* find(std::string_view key) const;
  // Calls `f(key)` for every Ref inside this value, depth first.
  template <class F>
  void for_each_ref(F&& f) const {
    switch (kind) {
      case Kind::Ref: f(text); break;
      case Kind::Array: for (const Value& v : items) v.for_each_ref(f); break;
      case Kind::Map: for (const auto& [k, v] : entries) v.for_each_ref(f); break;
      default: break;
    }
  }
};

inline Value::Value() = default;
inline Value::Value(const Value&) = default;
inline Value::Value(Value&&) noexcept = default;
inline Value& Value::operator=(const Value&) = default;
inline Value& Value::operator=(Value&&) noexcept = default;
inline Value::~Value() = default;

// Map key order: strings by bytes, numbers numerically (a map never mixes the two).
bool key_less(const Value& a, const Value& b);

// True when `x` is an integer the hashing scheme encodes as <int> (|x| <= 2^53).
bool is_hash_integer(double x);

// The fields of one instance, sorted by name.
using Fields = std::vector<std::pair<std::string, Value>>;
const Value* find_field(const Fields& fields, std::string_view name);

// JSON text of a value, as `ochre plan --json` writes it: refs as
// {"$ref": "Type/identifier"}, maps with number keys become objects with the numbers as
// text.
std::string to_json(const Value& v);

}  // namespace ochre
