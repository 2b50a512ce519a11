#include "engine/json_output.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "engine/hash.hpp"

namespace ochre {

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
  JsonWriter w(out);
  w.value(j);
}

std::string dump_json(const Json& j) {
  std::string out;
  write_json(j, out);
  return out;
}

std::string to_json(const Value& v) {
  std::string out;
  JsonWriter w(out);
  w.value(v);
  return out;
}

// ---- JsonWriter ------------------------------------------------------------------------
//
// nlohmann's serializer writes the strings (no invalid UTF-8 reaches it: see string());
// the rest is written here, numbers as ochre writes them rather than in nlohmann's own
// float format (Grisu2: not always the shortest digits, nor Python's choice of notation).

struct JsonWriter::Impl {
  explicit Impl(std::string& out)
      : serializer(nlohmann::detail::output_adapter<char>(out), ' ', nlohmann::detail::error_handler_t::replace) {}
  nlohmann::detail::serializer<Json> serializer;
  Json scratch = "";  // the string being written: its buffer is reused
};

JsonWriter::JsonWriter(std::string& out) : impl_(std::make_unique<Impl>(out)), out_(out) {}
JsonWriter::~JsonWriter() = default;

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
  } else if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

void JsonWriter::begin_object() {
  separate();
  out_ += '{';
  first_.push_back(true);
}

void JsonWriter::end_object() {
  out_ += '}';
  first_.pop_back();
}

void JsonWriter::begin_array() {
  separate();
  out_ += '[';
  first_.push_back(true);
}

void JsonWriter::end_array() {
  out_ += ']';
  first_.pop_back();
}

void JsonWriter::key(std::string_view name) {
  separate();
  // Most names are plain: written as they are.
  bool plain = true;
  for (unsigned char c : name) plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  if (plain) {
    out_ += '"';
    out_ += name;
    out_ += '"';
  } else {
    string(name);
  }
  out_ += ':';
  after_key_ = true;
}

void JsonWriter::string(std::string_view s) {
  auto& text = impl_->scratch.get_ref<std::string&>();
  if (is_utf8(s)) text.assign(s);
  else text = valid_utf8(s);
  impl_->serializer.dump(impl_->scratch, false, false, 0);
}

void JsonWriter::null() {
  separate();
  out_ += "null";
}

void JsonWriter::value(bool b) {
  separate();
  out_ += b ? "true" : "false";
}

void JsonWriter::value(double x) {
  separate();
  out_ += std::isfinite(x) ? json_number_text(x) : "null";
}

void JsonWriter::integer(long long n) {
  separate();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

void JsonWriter::unsigned_integer(unsigned long long n) {
  separate();
  char buf[24];
  out_.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

void JsonWriter::value(std::string_view s) {
  separate();
  string(s);
}

void JsonWriter::value(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Nil: null(); break;
    case Value::Kind::Bool: value(v.boolean); break;
    case Value::Kind::Number: value(v.number); break;
    case Value::Kind::String: value(std::string_view(v.text)); break;
    case Value::Kind::Ref:
      begin_object();
      member("$ref", v.text);
      end_object();
      break;
    case Value::Kind::Array:
      begin_array();
      for (const Value& item : v.items) value(item);
      end_array();
      break;
    case Value::Kind::Map:
      begin_object();
      for (const auto& [k, val] : v.entries) {
        if (k.kind == Value::Kind::String) key(k.text);
        else key(json_number_text(k.number));
        value(val);
      }
      end_object();
      break;
  }
}

void JsonWriter::value(const Fields& fields) {
  begin_object();
  for (const auto& [name, v] : fields) member(name, v);
  end_object();
}

void JsonWriter::value(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: null(); break;
    case Json::value_t::boolean: value(j.get<bool>()); break;
    case Json::value_t::number_integer: integer(j.get<std::int64_t>()); break;
    case Json::value_t::number_unsigned: unsigned_integer(j.get<std::uint64_t>()); break;
    case Json::value_t::number_float: value(j.get<double>()); break;
    case Json::value_t::string: value(std::string_view(j.get_ref<const std::string&>())); break;
    case Json::value_t::array:
      begin_array();
      for (const Json& item : j.get_ref<const Json::array_t&>()) value(item);
      end_array();
      break;
    case Json::value_t::object:
      begin_object();
      for (const auto& [name, item] : j.get_ref<const Json::object_t&>()) member(name, item);
      end_object();
      break;
    default:  // binary: never built by ochre
      separate();
      impl_->serializer.dump(j, false, false, 0);
      break;
  }
}

}  // namespace ochre
