#include "engine/canonical.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
    fail(Msg::DamagedEncoding, {"", std::to_string(pos)});
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
  f.packed_ = true;
  return f;
}

const Fields& PackedFields::get() const {
  if (!fields_) fields_ = std::make_unique<Fields>(packed_ ? value_to_fields(decode(encoded_)) : Fields());
  return *fields_;
}

Fields& PackedFields::edit() {
  get();
  packed_ = false;
  encoded_.clear();
  return *fields_;
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

}  // namespace ochre
