#include "engine/sensitive.hpp"

#include <algorithm>

namespace ochre {

const char* const sensitive_text = "(sensitive)";

bool is_sensitive(const Sensitive& sensitive, std::string_view type, std::string_view field) {
  if (sensitive.empty()) return false;
  auto it = sensitive.find(std::string(type));
  if (it == sensitive.end()) return false;
  return std::find(it->second.begin(), it->second.end(), field) != it->second.end();
}

Fields mask_fields(const Fields& fields, const Sensitive& sensitive, std::string_view type) {
  Fields out = fields;
  for (auto& [name, value] : out)
    if (is_sensitive(sensitive, type, name)) value = Value::of_string(sensitive_text);
  return out;
}

}  // namespace ochre
