// What every state store shares: where a state lives, and opening the right store.
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "engine/canonical.hpp"
#include "engine/state.hpp"
#include "engine/state_rows.hpp"
#include "ochre/errors.hpp"

namespace ochre {

bool is_postgres_location(const std::string& location) {
  return location.rfind("postgres://", 0) == 0 || location.rfind("postgresql://", 0) == 0;
}

std::string redact_location(const std::string& location) {
  if (!is_postgres_location(location)) return location;
  std::string out = location;
  // postgres://user:PASSWORD@host/...
  size_t start = out.find("://") + 3;
  size_t at = out.find('@', start);
  size_t slash = out.find('/', start);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // ...?password=PASSWORD&...
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
    size_t end = out.find('&', p);
    size_t from = p + 9;
    out.replace(from, (end == std::string::npos ? out.size() : end) - from, "***");
  }
  return out;
}

bool valid_workspace(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  return name[0] != '.' && name[0] != '-';
}

std::string sqlite_workspace_path(const std::string& path, const std::string& workspace) {
  if (workspace.empty() || workspace == default_workspace || path == ":memory:") return path;
  std::filesystem::path p(path);
  std::string name = p.stem().string() + "." + workspace + p.extension().string();
  return (p.parent_path() / name).string();
}

std::unique_ptr<StateStore> open_state(const std::string& location, const std::string& workspace,
                                       OpenMode mode) {
  if (is_postgres_location(location)) return open_postgres_state(location, workspace, mode);
  return open_sqlite_state(sqlite_workspace_path(location, workspace), mode);
}

std::vector<std::pair<std::string, std::vector<std::string>>> StateStore::recorded_sensitive() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (StoredInstance& s : load())
    if (!s.sensitive.empty()) out.emplace_back(std::move(s.type), std::move(s.sensitive));
  return out;
}

std::string state_now() {
  using namespace std::chrono;
  auto t = system_clock::now();
  long long ms_since_epoch = duration_cast<milliseconds>(t.time_since_epoch()).count();
  // Jobs end thousands a second: the text of the last millisecond is kept.
  thread_local long long last_ms = -1;
  thread_local std::string last_text;
  if (ms_since_epoch == last_ms) return last_text;
  std::time_t secs = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms_since_epoch % 1000));
  last_ms = ms_since_epoch;
  last_text = buf;
  return last_text;
}

std::string host_name() {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return host;
}

std::string user_name() {
  const char* user = std::getenv("USER");
  if (!user || !*user) {
    const passwd* pw = getpwuid(getuid());
    user = pw ? pw->pw_name : nullptr;
  }
  return user ? user : "?";
}

std::string encode_keys(const std::vector<std::string>& keys) {
  std::string out = "l";
  for (const auto& k : keys) {
    out += std::to_string(k.size());
    out += ':';
    out += k;
  }
  out += 'e';
  return out;
}

std::vector<std::string> decode_keys(std::string_view bytes) {
  std::vector<std::string> keys;
  if (bytes == "le") return keys;  // most lists are empty
  Value a = decode(bytes);
  keys.reserve(a.items.size());
  for (Value& k : a.items) keys.push_back(std::move(k.text));
  return keys;
}

std::string fields_blob(const PackedFields& fields) {
  if (const std::string* e = fields.encoding()) return *e;
  return encode_fields(fields);
}

void decode_version(const std::string& where, std::string_view fields, std::string_view outputs,
                    VersionRecord& v) {
  try {
    v.fields = value_to_fields(decode(fields));
    v.outputs = decode(outputs);
  } catch (const Error& e) {
    fail(Msg::DamagedVersion, {where, v.key, e.what()});
  }
}

void decode_instance_row(const std::string& where, const RowText& row, StoredInstance& s) {
  try {
    check_fields(row.fields);
    s.fields = PackedFields::packed(row.fields);
    s.outputs = decode(row.outputs);
    s.deps = decode_keys(row.deps);
    if (!row.breaks.empty()) s.breaks = decode_keys(row.breaks);
    if (!row.sensitive.empty()) s.sensitive = decode_keys(row.sensitive);
  } catch (const Error& e) {
    fail(Msg::DamagedRowForget, {where, s.key, e.what(), s.key});
  }
  s.breaks_known = !row.breaks.empty();
  if (!parse_status(row.status, s.status) || !parse_action(row.action, s.action))
    fail(Msg::DamagedRow, {where, s.key});
}

}  // namespace ochre
