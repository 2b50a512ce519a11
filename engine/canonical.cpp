#include "engine/canonical.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ochre/errors.hpp"
#include "engine/hash.hpp"

namespace ochre {

void encode_number(double x, std::string& out) {
  if (is_hash_integer(x)) {
    char buf[32];
    buf[0] = 'i';
    char* end = std::to_chars(buf + 1, buf + sizeof buf - 1, static_cast<long long>(x)).ptr;
    *end++ = 'e';
    out.append(buf, end);
  } else {
    out += 'd';
    out += python_float_repr(x);
    out += 'e';
  }
}

void encode_string(std::string_view s, std::string& out) {
  char len[24];
  out.append(len, std::to_chars(len, len + sizeof len, s.size()).ptr);
  out += ':';
  out += s;
}

void encode_to(const Value& v, std::string& out) {
  switch (v.kind) {
    case Value::Kind::Nil: out += 'n'; break;
    case Value::Kind::Bool: out += v.boolean ? 't' : 'f'; break;
    case Value::Kind::Number: encode_number(v.number, out); break;
    case Value::Kind::String: encode_string(v.text, out); break;
    case Value::Kind::Ref:
      out += 'r';
      encode_string(v.text, out);
      break;
    case Value::Kind::Array:
      out += 'l';
      for (const Value& item : v.items) encode_to(item, out);
      out += 'e';
      break;
    case Value::Kind::Map:
      out += 'm';
      for (const auto& [k, val] : v.entries) {
        encode_to(k, out);
        encode_to(val, out);
      }
      out += 'e';
      break;
  }
}

std::string encode(const Value& v) {
  std::string out;
  encode_to(v, out);
  return out;
}

void encode_fields_to(const Fields& fields, std::string& out) {
  out += 'm';
  for (const auto& [name, v] : fields) {
    encode_string(name, out);
    encode_to(v, out);
  }
  out += 'e';
}

std::string encode_fields(const Fields& fields) {
  std::string out;
  encode_fields_to(fields, out);
  return out;
}

namespace {

struct Decoder {
  std::string_view in;
  size_t pos = 0;
  int depth = 0;

  [[noreturn]] void bad() {
    fail(Code::State, {"", "damaged value encoding at byte " + std::to_string(pos)});
  }
  char peek() { return pos < in.size() ? in[pos] : '\0'; }
  std::string_view until(char end) {
    size_t e = in.find(end, pos);
    if (e == std::string_view::npos) bad();
    std::string_view s = in.substr(pos, e - pos);
    pos = e + 1;
    return s;
  }
  // A "<len>:<bytes>" string, into `out`.
  void counted(std::string& out) {
    std::string_view len_text = until(':');
    size_t len = 0;
    auto r = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (r.ec != std::errc() || r.ptr != len_text.data() + len_text.size() || len > in.size() - pos)
      bad();
    out.assign(in.data() + pos, len);
    pos += len;
  }
  // A number up to its closing 'e'. A float's exponent is Python's, always signed
  // (1e-05, 1e+16), and no token starts with a sign: the closing 'e' is the first one
  // not followed by '+' or '-'.
  double number(bool is_float) {
    size_t end = pos;
    while (end < in.size() && !(in[end] == 'e' && !(is_float && end + 1 < in.size() &&
                                                      (in[end + 1] == '+' || in[end + 1] == '-'))))
      ++end;
    if (end >= in.size() || end == pos) bad();
    const char* first = in.data() + pos;
    const char* last = in.data() + end;
    double x = 0;
    std::from_chars_result r;
    if (is_float) {
      r = std::from_chars(first, last, x);
    } else {  // encoded from integers of at most 2^53: exact as long long and as double
      long long n = 0;
      r = std::from_chars(first, last, n);
      x = static_cast<double>(n);
    }
    if (r.ec != std::errc() || r.ptr != last) bad();
    pos = end + 1;
    return x;
  }
  // Steps over one value, checking it, building nothing.
  void skip() {
    if (++depth > 1000) bad();
    char c = peek();
    if (c == 'n' || c == 't' || c == 'f') {
      ++pos;
    } else if (c == 'i') {  // an integer: digits, perhaps a sign, up to 'e'
      size_t start = ++pos;
      if (peek() == '-') ++pos;
      while (pos < in.size() && in[pos] >= '0' && in[pos] <= '9') ++pos;
      if (pos == start || in[pos - 1] == '-' || peek() != 'e') bad();
      ++pos;
    } else if (c == 'd') {
      ++pos;
      number(true);
    } else if (c == 'r') {
      ++pos;
      skip_counted();
    } else if (c >= '0' && c <= '9') {
      skip_counted();
    } else if (c == 'l' || c == 'm') {
      ++pos;
      int n = 0;
      while (peek() != 'e') {
        if (pos >= in.size()) bad();
        skip();
        ++n;
      }
      if (c == 'm' && n % 2) bad();
      ++pos;
    } else {
      bad();
    }
    --depth;
  }
  void skip_counted() {
    std::string_view len_text = until(':');
    size_t len = 0;
    auto r = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (r.ec != std::errc() || r.ptr != len_text.data() + len_text.size() || len > in.size() - pos)
      bad();
    pos += len;
  }

  // Decodes one value into `v` (a fresh Value), in place: the state holds many.
  void value(Value& v) {
    if (++depth > 1000) bad();
    char c = peek();
    if (c == 'n') {
      ++pos;
    } else if (c == 't' || c == 'f') {
      ++pos;
      v.kind = Value::Kind::Bool;
      v.boolean = c == 't';
    } else if (c == 'i' || c == 'd') {
      ++pos;
      v.kind = Value::Kind::Number;
      v.number = number(c == 'd');
    } else if (c == 'r') {
      ++pos;
      v.kind = Value::Kind::Ref;
      counted(v.text);
    } else if (c >= '0' && c <= '9') {
      v.kind = Value::Kind::String;
      counted(v.text);
    } else if (c == 'l') {
      ++pos;
      v.kind = Value::Kind::Array;
      while (peek() != 'e') {
        if (pos >= in.size()) bad();
        value(v.items.emplace_back());
      }
      ++pos;
    } else if (c == 'm') {
      ++pos;
      v.kind = Value::Kind::Map;
      while (peek() != 'e') {
        if (pos >= in.size()) bad();
        auto& entry = v.entries.emplace_back();
        value(entry.first);
        value(entry.second);
      }
      ++pos;
    } else {
      bad();
    }
    --depth;
  }
};

}  // namespace

Value decode(std::string_view bytes) {
  Decoder d{bytes};
  Value v;
  d.value(v);
  if (d.pos != bytes.size()) d.bad();
  return v;
}

void check_fields(std::string_view bytes) {
  Decoder d{bytes};
  if (d.peek() != 'm') d.bad();
  ++d.pos;
  while (d.peek() != 'e') {  // name (a string), value, ...
    char c = d.peek();
    if (c < '0' || c > '9') d.bad();
    d.skip_counted();
    d.skip();
  }
  if (++d.pos != bytes.size()) d.bad();
}

PackedFields PackedFields::packed(std::string bytes) {
  PackedFields f;
  f.encoded_ = std::move(bytes);
  f.decoded_ = false;
  f.packed_ = true;
  return f;
}

const Fields& PackedFields::get() const {
  if (!decoded_) {
    fields_ = value_to_fields(decode(encoded_));
    decoded_ = true;
  }
  return fields_;
}

Fields& PackedFields::edit() {
  get();
  packed_ = false;
  encoded_.clear();
  return fields_;
}

Value fields_to_value(const Fields& fields) {
  Value m = Value::map();
  m.entries.reserve(fields.size());
  for (const auto& [name, v] : fields) m.entries.emplace_back(Value::of_string(name), v);
  return m;  // already sorted: Fields are sorted by name
}

Fields value_to_fields(const Value& v) {
  Fields f;
  f.reserve(v.entries.size());
  for (const auto& [k, val] : v.entries) f.emplace_back(k.text, val);
  return f;
}

Fields value_to_fields(Value&& v) {
  Fields f;
  f.reserve(v.entries.size());
  for (auto& [k, val] : v.entries) f.emplace_back(std::move(k.text), std::move(val));
  return f;
}

namespace {

bool is_lua_name(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

std::string number_display(double x) {
  if (is_hash_integer(x)) return std::to_string(static_cast<long long>(x));
  return python_float_repr(x);
}

void display_to(const Value& v, std::string& out) {
  switch (v.kind) {
    case Value::Kind::Nil: out += "nil"; break;
    case Value::Kind::Bool: out += v.boolean ? "true" : "false"; break;
    case Value::Kind::Number: out += number_display(v.number); break;
    case Value::Kind::String: out += quote_literal(v.text); break;
    case Value::Kind::Ref: out += v.text; break;
    case Value::Kind::Array:
      out += "{";
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ", ";
        display_to(v.items[i], out);
      }
      out += "}";
      break;
    case Value::Kind::Map:
      out += "{";
      for (size_t i = 0; i < v.entries.size(); ++i) {
        if (i) out += ", ";
        const Value& k = v.entries[i].first;
        if (k.kind == Value::Kind::String && is_lua_name(k.text)) {
          out += k.text;
        } else {
          out += "[";
          display_to(k, out);
          out += "]";
        }
        out += " = ";
        display_to(v.entries[i].second, out);
      }
      out += "}";
      break;
  }
}

}  // namespace

std::string display(const Value& v, size_t max_len) {
  std::string out;
  display_to(v, out);
  if (out.size() > max_len) out = out.substr(0, max_len - 3) + "...";
  return out;
}

std::string quote_literal(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// ---- Machine output ----------------------------------------------------------------

namespace {

// The length of the valid UTF-8 sequence at p[0..n) (n > 0), or 0.
size_t utf8_sequence(const unsigned char* p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (!len || len > n) return 0;
  unsigned cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((p[k] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3f);
  }
  static const unsigned min_of[] = {0, 0, 0x80, 0x800, 0x10000};
  bool ok = cp >= min_of[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
  return ok ? len : 0;
}

bool is_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_sequence(p + i, n - i);
    if (!len) return false;
    i += len;
  }
  return true;
}

// Below 2^63 in magnitude, an integral double converts to long long exactly.
bool is_json_integer(double x) {
  return std::isfinite(x) && std::floor(x) == x && x >= -9223372036854775808.0 && x < 9223372036854775808.0;
}

std::string json_number_text(double x) {
  if (is_json_integer(x)) {
    char buf[24];
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, static_cast<long long>(x)).ptr);
  }
  return python_float_repr(x);
}

// nlohmann's serializer writes the strings (escapes, and no invalid UTF-8 reaches it);
// the rest is written here, numbers as ochre writes them rather than nlohmann's own float
// format (Grisu2, not always the shortest digits, nor Python's choice of exponent form).
using Serializer = nlohmann::detail::serializer<Json>;

void write_string(Serializer& s, const Json& j) {
  const auto& text = j.get_ref<const std::string&>();
  if (is_utf8(text)) s.dump(j, false, false, 0);
  else s.dump(Json(valid_utf8(text)), false, false, 0);
}

// Most keys are names: written as they are.
void write_key(Serializer& s, const std::string& key, std::string& out) {
  bool plain = true;
  for (unsigned char c : key) plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  if (plain) {
    out += '"';
    out += key;
    out += '"';
  } else {
    write_string(s, Json(key));
  }
}

void write_to(Serializer& s, const Json& j, std::string& out) {
  char buf[24];
  switch (j.type()) {
    case Json::value_t::null: out += "null"; break;
    case Json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; break;
    case Json::value_t::number_integer:
      out.append(buf, std::to_chars(buf, buf + sizeof buf, j.get<std::int64_t>()).ptr);
      break;
    case Json::value_t::number_unsigned:
      out.append(buf, std::to_chars(buf, buf + sizeof buf, j.get<std::uint64_t>()).ptr);
      break;
    case Json::value_t::number_float: {
      double x = j.get<double>();
      out += std::isfinite(x) ? json_number_text(x) : "null";
      break;
    }
    case Json::value_t::string: write_string(s, j); break;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& item : j.get_ref<const Json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        write_to(s, item, out);
      }
      out += ']';
      break;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : j.get_ref<const Json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        write_key(s, key, out);
        out += ':';
        write_to(s, item, out);
      }
      out += '}';
      break;
    }
    default: s.dump(j, false, false, 0); break;  // binary: never built by ochre
  }
}

}  // namespace

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    size_t len = utf8_sequence(p + i, n - i);
    if (len) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

Json json_of(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Nil: return nullptr;
    case Value::Kind::Bool: return v.boolean;
    case Value::Kind::Number:
      if (is_json_integer(v.number)) return static_cast<std::int64_t>(v.number);
      return v.number;
    case Value::Kind::String: return v.text;
    case Value::Kind::Ref: {
      Json ref = Json::object();
      ref.emplace("$ref", v.text);
      return ref;
    }
    case Value::Kind::Array: {
      Json out = Json::array();
      out.get_ref<Json::array_t&>().reserve(v.items.size());
      for (const Value& item : v.items) out.push_back(json_of(item));
      return out;
    }
    case Value::Kind::Map: {
      // Appended without a lookup: a map's keys are distinct values (a number key 2 and a
      // string key "2" are both written, as two members named "2").
      Json out = Json::object();
      auto& members = out.get_ref<Json::object_t&>();
      members.reserve(v.entries.size());
      for (const auto& [k, val] : v.entries)
        members.emplace_back(k.kind == Value::Kind::String ? k.text : json_number_text(k.number), json_of(val));
      return out;
    }
  }
  return nullptr;
}

void write_json(const Json& j, std::string& out) {
  Serializer s(nlohmann::detail::output_adapter<char>(out), ' ', nlohmann::detail::error_handler_t::replace);
  write_to(s, j, out);
}

std::string dump_json(const Json& j) {
  std::string out;
  write_json(j, out);
  return out;
}

std::string to_json(const Value& v) { return dump_json(json_of(v)); }

}  // namespace ochre
