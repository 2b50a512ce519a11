// libFuzzer target: the canonical decoder on arbitrary bytes, and what a decoded value
// goes through in ochre: encoding (which must round-trip and be stable), hashing (digests
// and instance ids, as the planner computes them), display and JSON.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "ochre/errors.hpp"

using namespace ochre;

namespace {

[[noreturn]] void broken(const char* what) {
  __builtin_trap();  // libFuzzer reports it with the input
  (void)what;
}

const std::string& ref_id(const std::string& key, Tree tree) {
  static const std::string full(64, 'f'), breaking(16, 'b');
  (void)key;
  return tree == Tree::Full ? full : breaking;
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Value v;
  try {
    v = decode(bytes);
  } catch (const Error&) {
    return 0;  // malformed input is refused with an error: fine
  }
  // Encoding is canonical: what it writes decodes to the same value and encodes again to
  // the same bytes.
  std::string once = encode(v);
  Value again;
  try {
    again = decode(once);
  } catch (const Error&) {
    broken("encode wrote what decode refuses");
  }
  if (encode(again) != once) broken("encoding is not stable");

  (void)display(v);
  (void)to_json(v);
  IdLookup lookup = ref_id;
  try {
    (void)digest(v, Tree::Full, lookup);
    (void)digest(v, Tree::Breaking, lookup);
  } catch (const Error&) {
    // a map mixing string and number keys has no digest: an error, not a crash
  }
  // A map with string keys is a set of fields: the ids of an instance holding them.
  if (v.kind == Value::Kind::Map) {
    bool strings = true;
    for (const auto& [k, x] : v.entries) strings = strings && k.kind == Value::Kind::String;
    if (strings) {
      Fields fields = value_to_fields(v);
      std::vector<std::string> breaks;
      for (size_t i = 0; i < fields.size() && i < 3; ++i) breaks.push_back(fields[i].first);
      try {
        Ids ids = compute_ids("T", "id", breaks, fields, lookup);
        if (ids.uuid.size() != 16 || ids.hash.size() != 64) broken("ids of the wrong length");
        if (fields_to_value(fields) != v) broken("fields do not round-trip");
      } catch (const Error&) {
      }
    }
  }
  return 0;
}
