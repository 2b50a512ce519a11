// Sensitive fields: a component type may declare fields (`sensitive = { "password" }`)
// whose values ochre never shows. Plans, explain, --json, state show and history print
// "(sensitive)" in their place; the values are still hashed and stored (the state file is
// owner-only). The displays take the declared names per type.
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ochre/value.hpp"

namespace ochre {

// Type name -> the names of its sensitive fields. Empty: nothing is masked.
using Sensitive = std::unordered_map<std::string, std::vector<std::string>>;

// What is shown instead of a sensitive value.
extern const char* const sensitive_text;  // "(sensitive)"

bool is_sensitive(const Sensitive& sensitive, std::string_view type, std::string_view field);
// `fields` of an instance of `type` with every sensitive value replaced by sensitive_text.
Fields mask_fields(const Fields& fields, const Sensitive& sensitive, std::string_view type);

// Replaces every value of a sensitive field, wherever it appears in a text (a hook's
// error, its output, a command line), with sensitive_text. Strings (and the strings
// inside lists and maps) of at least `min_length` bytes count: a shorter one would mask
// ordinary text, and guessing it needs no trace anyway.
class Redactor {
 public:
  static constexpr size_t min_length = 4;
  // Adds the sensitive fields' values of one instance of `sensitive_fields`.
  void add(const Fields& fields, const std::vector<std::string>& sensitive_fields);
  bool empty() const { return secrets_.empty(); }
  std::string apply(std::string text) const;

 private:
  void add_value(const Value& v);
  std::vector<std::string> secrets_;  // longest first once applied
  mutable bool sorted_ = true;
};

}  // namespace ochre
