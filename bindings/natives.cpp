// Helpers the stdlib and pipelines use: JSON, SHA-256 of strings and files, and the
// file system. Thin natives; dsl.lua wraps them as ochre.json, ochre.sha256, ochre.fs.
// Errors are thrown as UserError: the trampoline raises them at the user's line.
#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bindings/convert.hpp"
#include "bindings/session.hpp"
#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "engine/notify.hpp"

namespace ochre::lua {
namespace {

namespace fs = std::filesystem;

std::string check_string(lua_State* L, int idx, const char* fn, const char* what) {
  if (lua_type(L, idx) != LUA_TSTRING) throw UserError(message(Msg::NativeTakes, {fn, what}));
  size_t len = 0;
  const char* s = lua_tolstring(L, idx, &len);
  return std::string(s, len);
}

// ---- JSON ------------------------------------------------------------------------

int l_json_encode(lua_State* L) {
  Value v;
  try {
    v = to_value(L, 1, [&](int) -> std::string {
      fail(Msg::ValueInstanceJson);
    }, "value");
  } catch (const Error& e) {
    throw UserError(message(Msg::JsonEncode, {e.what()}));
  }
  std::string out = to_json(v);
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

void push_json(lua_State* L, const nlohmann::json& j) {
  if (!lua_checkstack(L, 3)) throw LuaError("stack overflow (JSON nested too deeply)");
  switch (j.type()) {
    case nlohmann::json::value_t::null: lua_pushnil(L); break;
    case nlohmann::json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: lua_pushnumber(L, j.get<double>()); break;
    case nlohmann::json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      int i = 1;
      for (const auto& item : j) {
        push_json(L, item);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case nlohmann::json::value_t::object:
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (const auto& [k, item] : j.items()) {
        lua_pushlstring(L, k.data(), k.size());
        push_json(L, item);
        lua_rawset(L, -3);
      }
      break;
    default: lua_pushnil(L); break;
  }
}

int l_json_decode(lua_State* L) {
  std::string text = check_string(L, 1, "ochre.json.decode", "a JSON string");
  nlohmann::json j;
  std::string err;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (!err.empty()) throw UserError(message(Msg::JsonDecode, {err}));
  push_json(L, j);
  return 1;
}

// ---- SHA-256 ---------------------------------------------------------------------

int l_sha256(lua_State* L) {
  std::string s = check_string(L, 1, "ochre.sha256", "a string");
  std::string h = sha256_hex(s);
  lua_pushlstring(L, h.data(), h.size());
  return 1;
}

int l_sha256_file(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.sha256_file", "a path");
  Hex h;
  std::string err;
  if (!sha256_file(path, h, err)) {
    lua_pushnil(L);
    lua_pushlstring(L, err.data(), err.size());
    return 2;
  }
  lua_pushlstring(L, h.c, sizeof h.c);
  return 1;
}

// ---- File system -------------------------------------------------------------------
// Like io.open, these return nil and a message on failure, so callers can decide.

int fs_error(lua_State* L, const std::string& path, const std::error_code& ec) {
  lua_pushnil(L);
  lua_pushstring(L, (path + ": " + ec.message()).c_str());
  return 2;
}

int l_fs_read(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.read", "a path");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fs_error(L, path, std::error_code(errno, std::generic_category()));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  lua_pushlstring(L, data.data(), data.size());
  return 1;
}

int l_fs_write(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.write", "a path and a string");
  std::string data = check_string(L, 2, "ochre.fs.write", "a path and a string");
  // Written beside, then renamed: a reader never sees half a file.
  std::string tmp = path + ".ochre-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return fs_error(L, path, std::error_code(errno, std::generic_category()));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return fs_error(L, path, std::error_code(errno, std::generic_category()));
  }
  if (lua_isnumber(L, 3)) ::chmod(tmp.c_str(), static_cast<mode_t>(lua_tonumber(L, 3)));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    return fs_error(L, path, ec);
  }
  lua_pushboolean(L, 1);
  return 1;
}

int l_fs_exists(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.exists", "a path");
  std::error_code ec;
  lua_pushboolean(L, fs::exists(fs::symlink_status(path, ec)));
  return 1;
}

int l_fs_mkdir(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.mkdir", "a path");
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return fs_error(L, path, ec);
  lua_pushboolean(L, 1);
  return 1;
}

int l_fs_remove(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.remove", "a path");
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return fs_error(L, path, ec);
  lua_pushboolean(L, 1);
  return 1;
}

int l_fs_list(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.list", "a directory");
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path, ec)) names.push_back(e.path().filename().string());
  if (ec) return fs_error(L, path, ec);
  std::sort(names.begin(), names.end());
  lua_createtable(L, static_cast<int>(names.size()), 0);
  for (size_t i = 0; i < names.size(); ++i) {
    lua_pushlstring(L, names[i].data(), names[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int l_fs_stat(lua_State* L) {
  std::string path = check_string(L, 1, "ochre.fs.stat", "a path");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fs_error(L, path, std::error_code(errno, std::generic_category()));
  lua_createtable(L, 0, 4);
  lua_pushnumber(L, static_cast<double>(st.st_size));
  lua_setfield(L, -2, "size");
  lua_pushnumber(L, static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9);
  lua_setfield(L, -2, "mtime");
  lua_pushnumber(L, st.st_mode & 07777);
  lua_setfield(L, -2, "mode");
  const char* type = S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file"
                     : S_ISLNK(st.st_mode) ? "link" : "other";
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  return 1;
}

// ---- Notifications -----------------------------------------------------------------

// internal.webhook_url_problem(url): nil when ochre can post to `url`, else why not
// (the checks the CLI's --notify makes, so both say the same).
int l_webhook_url_problem(lua_State* L) {
  std::string problem = check_webhook_url(check_string(L, 1, "ochre.notify", "a url string"));
  if (problem.empty()) lua_pushnil(L);
  else lua_pushlstring(L, problem.data(), problem.size());
  return 1;
}

// internal.callsite(level): "file:line" of the Lua code `level` frames up, or nothing for
// a C function or a tail call that left no frame. The DSL records one per declaration:
// debug.getinfo would build a table each time.
int l_callsite(lua_State* L) {
  lua_Debug ar;
  if (!lua_getstack(L, static_cast<int>(lua_tointeger(L, 1)), &ar) || !lua_getinfo(L, "Sl", &ar) ||
      ar.currentline < 0 || std::strcmp(ar.what, "C") == 0)
    return 0;
  // Spelled out by hand: lua_pushfstring would cost more than the rest of a declaration.
  char buf[LUA_IDSIZE + 16];
  size_t n = std::strlen(ar.short_src);
  std::memcpy(buf, ar.short_src, n);
  buf[n++] = ':';
  n = static_cast<size_t>(std::to_chars(buf + n, buf + sizeof buf, ar.currentline).ptr - buf);
  lua_pushlstring(L, buf, n);
  return 1;
}

}  // namespace

void install_natives(Session& s, lua_State* L) {
  (void)s;
  const luaL_Reg natives[] = {
      {"json_encode", trampoline<l_json_encode>}, {"json_decode", trampoline<l_json_decode>},
      {"sha256", trampoline<l_sha256>},           {"sha256_file", trampoline<l_sha256_file>},
      {"fs_read", trampoline<l_fs_read>},         {"fs_write", trampoline<l_fs_write>},
      {"fs_exists", trampoline<l_fs_exists>},     {"fs_mkdir", trampoline<l_fs_mkdir>},
      {"fs_remove", trampoline<l_fs_remove>},     {"fs_list", trampoline<l_fs_list>},
      {"fs_stat", trampoline<l_fs_stat>},         {"callsite", l_callsite},
      {"webhook_url_problem", trampoline<l_webhook_url_problem>},
  };
  for (const auto& r : natives) {
    lua_pushcfunction(L, r.func);
    lua_setfield(L, -2, r.name);
  }
}

}  // namespace ochre::lua
