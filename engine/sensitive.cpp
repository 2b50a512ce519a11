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

void Redactor::add_value(const Value& v) {
  switch (v.kind) {
    case Value::Kind::String:
      if (v.text.size() >= min_length &&
          std::find(secrets_.begin(), secrets_.end(), v.text) == secrets_.end()) {
        secrets_.push_back(v.text);
        sorted_ = false;
      }
      break;
    case Value::Kind::Array:
      for (const Value& i : v.items) add_value(i);
      break;
    case Value::Kind::Map:
      for (const auto& [k, i] : v.entries) add_value(i);
      break;
    default:
      break;
  }
}

void Redactor::add(const Fields& fields, const std::vector<std::string>& sensitive_fields) {
  if (sensitive_fields.empty()) return;
  for (const auto& [name, value] : fields)
    if (std::find(sensitive_fields.begin(), sensitive_fields.end(), name) != sensitive_fields.end())
      add_value(value);
}

std::string Redactor::apply(std::string text) const {
  if (secrets_.empty() || text.empty()) return text;
  if (!sorted_) {  // a secret inside a longer one: the longer goes first
    auto& s = const_cast<std::vector<std::string>&>(secrets_);
    std::sort(s.begin(), s.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    sorted_ = true;
  }
  for (const std::string& secret : secrets_) {
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), sensitive_text);
      at += std::char_traits<char>::length(sensitive_text);
    }
  }
  return text;
}

}  // namespace ochre
