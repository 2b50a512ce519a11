#include "ochre/value.hpp"

#include <algorithm>
#include <cmath>

namespace ochre {

bool Value::operator==(const Value& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case Kind::Nil: return true;
    case Kind::Bool: return boolean == o.boolean;
    case Kind::Number: return number == o.number;
    case Kind::String:
    case Kind::Ref: return text == o.text;
    case Kind::Array: return items == o.items;
    case Kind::Map: return entries == o.entries;
  }
  return false;
}

bool key_less(const Value& a, const Value& b) {
  if (a.kind != b.kind) return a.kind < b.kind;
  if (a.kind == Value::Kind::Number) return a.number < b.number;
  return a.text < b.text;
}

void Value::sort_entries() {
  std::sort(entries.begin(), entries.end(),
            [](const auto& x, const auto& y) { return key_less(x.first, y.first); });
}

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.kind == Kind::String && k.text == key) return &v;
  return nullptr;
}

bool is_hash_integer(double x) {
  return std::isfinite(x) && std::floor(x) == x && std::fabs(x) <= 9007199254740992.0;
}

const Value* find_field(const Fields& fields, std::string_view name) {
  auto it = std::lower_bound(fields.begin(), fields.end(), name,
                             [](const auto& f, std::string_view n) { return f.first < n; });
  if (it != fields.end() && it->first == name) return &it->second;
  return nullptr;
}

}  // namespace ochre
