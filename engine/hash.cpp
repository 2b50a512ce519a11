#include "engine/hash.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "ochre/errors.hpp"

namespace ochre {

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1)
    fail(Code::Internal, {"EVP_Digest failed"});
  static const char hex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  return out;
}

std::string python_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, in scientific form: "-d.ddde+XX".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  auto e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp10 = std::atoi(sci.c_str() + e + 1);
  int decpt = exp10 + 1;  // x = 0.DIGITS * 10^decpt
  std::string out = neg ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += ebuf;
  } else if (decpt <= 0) {
    out += "0." + std::string(-decpt, '0') + digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits + std::string(decpt - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

namespace {

std::string number_text(double x) {
  if (is_hash_integer(x)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "<int>%lld", static_cast<long long>(x));
    return buf;
  }
  return "<float>" + python_float_repr(x);
}

}  // namespace

std::string digest(const Value& v, Tree tree, const IdLookup& lookup) {
  switch (v.kind) {
    case Value::Kind::Nil: return sha256_hex("<NoneType>None");
    case Value::Kind::Bool: return sha256_hex(v.boolean ? "<int>True" : "<int>False");
    case Value::Kind::Number: return sha256_hex(number_text(v.number));
    case Value::Kind::String: return sha256_hex(v.text);
    case Value::Kind::Ref: return sha256_hex(lookup(v.text, tree));
    case Value::Kind::Array: {
      std::string cat;
      cat.reserve(64 * v.items.size());
      for (const Value& item : v.items) cat += digest(item, tree, lookup);
      return sha256_hex(cat);
    }
    case Value::Kind::Map: {
      // Python's str() of a list of (str, str) tuples.
      std::string text = "[";
      for (size_t i = 0; i < v.entries.size(); ++i) {
        if (i) text += ", ";
        text += "('" + digest(v.entries[i].first, tree, lookup) + "', '" +
                digest(v.entries[i].second, tree, lookup) + "')";
      }
      text += "]";
      return sha256_hex(text);
    }
  }
  return {};
}

namespace {

// A field's entry in a Merkle tree: a sub-component's id, or the digest of the value.
std::string tree_entry(const Value& v, Tree tree, const IdLookup& lookup) {
  if (v.kind == Value::Kind::Ref) return lookup(v.text, tree);
  return digest(v, tree, lookup);
}

}  // namespace

Ids compute_ids(std::string_view type, std::string_view identifier,
                const std::vector<std::string>& breaks, const Fields& fields,
                const IdLookup& lookup) {
  static const Value nil;
  auto field = [&](std::string_view name) -> const Value& {
    const Value* v = find_field(fields, name);
    return v ? *v : nil;
  };
  std::string uuid_text = sha256_hex(type) + sha256_hex(identifier);
  std::string breaking_cat;
  for (const std::string& name : breaks) {
    const Value& v = field(name);
    uuid_text += sha256_hex(tree_entry(v, Tree::Breaking, lookup));
    breaking_cat += sha256_hex(tree_entry(v, Tree::Full, lookup));
  }
  std::string other_cat;
  for (const auto& [name, v] : fields) {
    if (std::find(breaks.begin(), breaks.end(), name) != breaks.end()) continue;
    other_cat += sha256_hex(tree_entry(v, Tree::Full, lookup));
  }
  Ids ids;
  ids.uuid = sha256_hex(uuid_text).substr(0, 16);
  ids.hash = sha256_hex(breaking_cat).substr(0, 32) + sha256_hex(other_cat).substr(0, 32);
  return ids;
}

}  // namespace ochre
