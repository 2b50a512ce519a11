// The `ochre` Lua module: the DSL from dsl.lua plus the natives, installed into a
// session's Lua state. The session travels to natives as an upvalue, never a global.
#include <cctype>
#include <filesystem>

#include "bindings/session.hpp"

namespace ochre::lua {
namespace {

Session& session_of(lua_State* L) {
  return *static_cast<Session*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// "file:line: " of the Lua code that called the running native, as luaL_error puts
// before its message ("" for C code).
std::string position(lua_State* L) {
  luaL_where(L, 1);
  std::string where = lua_tostring(L, -1);
  lua_pop(L, 1);
  return where;
}

// luaL_checkstring's check and message, thrown rather than raised.
const char* check_string(lua_State* L, int idx) {
  if (const char* s = lua_tostring(L, idx)) return s;
  lua_Debug ar;
  const char* fn = lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name ? ar.name : "?";
  throw LuaError(position(L) + message(Msg::BadArgument, {std::to_string(idx), fn, luaL_typename(L, idx)}));
}

// print(...) as Lua's, but into the running job's captured output too. In a host's Lua
// state, print outside a hook is the host's own print (upvalue 2).
int l_ochre_print(lua_State* L) {
  Session& s = session_of(L);
  int n = lua_gettop(L);
  if (!s.context_of(L) && lua_isfunction(L, lua_upvalueindex(2))) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    call(L, n, 0);
    return 0;
  }
  std::string line;
  lua_getglobal(L, "tostring");
  for (int i = 1; i <= n; ++i) {
    lua_pushvalue(L, -1);
    lua_pushvalue(L, i);
    call(L, 1, 1);
    size_t len = 0;
    const char* t = lua_tolstring(L, -1, &len);
    if (!t) throw LuaError(position(L) + message(Msg::PrintTostring));
    if (i > 1) line += '\t';
    line.append(t, len);
    lua_pop(L, 1);
  }
  line += '\n';
  s.write_output(L, line);
  return 0;
}

// ochre.apply(x) / ochre.plan(x) / ochre.destroy(x). In a pipeline run by the CLI or a
// C++ host, x (an instance or a list of them) becomes the roots the host's command works
// on. In a LuaJIT host that did require "ochre", they plan and apply for real.
int l_ochre_apply(lua_State* L) {
  Session& s = session_of(L);
  const char* verb = lua_tostring(L, lua_upvalueindex(2));
  if (s.lua_verb) return s.lua_verb(L, verb);
  // A hook runs on its own coroutine, while the roots belong to the pipeline file: the
  // main state's stack is not this call's.
  if (L != s.L() || s.context_of(L))
    throw UserError(message(Msg::VerbInHook, {verb}));
  std::string got = "nothing";
  if (!lua_isnoneornil(L, 1)) {
    try {
      s.set_roots(1);
      return 0;
    } catch (const Error& e) {
      if (e.code() != Code::BadReturn) throw;
      std::string what = e.what();
      size_t p = what.rfind("(it returned ");
      got = p == std::string::npos ? what : what.substr(p + 13, what.size() - p - 14);
    }
  }
  throw UserError(message(Msg::VerbTakes, {verb, got}));
}

// internal.instance_dir(key): the instance's own directory under the state's, created.
int l_ochre_instance_dir(lua_State* L) {
  Session& s = session_of(L);
  std::string dir = s.instance_dir(check_string(L, 1));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw LuaError(position(L) + message(Msg::CannotCreate, {dir, ec.message()}));
  lua_pushlstring(L, dir.data(), dir.size());
  return 1;
}

// A package.loaders entry: require "ochre.NAME" loads stdlib/NAME.lua from the binary.
int l_ochre_searcher(lua_State* L) {
  std::string name = check_string(L, 1);
  if (name.rfind("ochre.", 0) == 0 && load_embedded(L, name.c_str() + 6)) return 1;
  std::string text = message(Msg::StdlibNoModule, {name});
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

int l_ochre_preload(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

}  // namespace

namespace {

// Every byte outside [A-Za-z0-9_.-], and a leading '.', is %XX-escaped, so a name can
// never leave its directory.
std::string escape_segment(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = name[i];
    if (std::isalnum(c) || c == '_' || c == '-' || (c == '.' && i > 0)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

std::string Session::instance_dir(const std::string& key) const {
  std::string type, identifier;
  if (!split_key(key, type, identifier)) fail(Msg::BadKey, {key});
  std::filesystem::path root = files_root();
  return (root / escape_segment(type) / escape_segment(identifier)).string();
}

bool Session::files_root_absent() {
  if (!files_cached_) return false;
  if (absent_at_ == resumes_) return true;
  std::error_code ec;
  if (std::filesystem::symlink_status(files_root(), ec).type() != std::filesystem::file_type::not_found)
    return false;
  absent_at_ = resumes_;
  return true;
}

void install_module(Session& s) {
  lua_State* L = s.L();
  StackGuard guard(L);
  run_embedded(L, "dsl", 2);  // M, internal
  // internal.messages: the catalog's texts by name, for dsl.lua's msg().
  std::size_t count = 0;
  const MessageText* texts = message_texts(&count);
  lua_createtable(L, 0, static_cast<int>(count));
  for (std::size_t i = 0; i < count; ++i) {
    lua_pushstring(L, texts[i].text);
    lua_setfield(L, -2, texts[i].name);
  }
  lua_setfield(L, -2, "messages");
  lua_pushlightuserdata(L, &s);
  lua_pushcclosure(L, trampoline<l_ochre_instance_dir>, 1);
  lua_setfield(L, -2, "instance_dir");
  install_waits(s, L);    // ochre.sh, sleep, wait_* (wrapped by dsl.lua's M.sh)
  install_natives(s, L);  // json, sha256, fs (wrapped by dsl.lua)
  lua_getfield(L, -1, "RECORD");
  s.record_key_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "SITE");
  s.site_key_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "VALUES");
  s.values_key_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "LIFECYCLE");
  s.lifecycle_key_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  s.internal_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  s.module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);  // M stays on the stack for the natives below

  // package.preload.ochre = function() return M end
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, l_ochre_preload, 1);
  lua_setfield(L, -2, "ochre");
  lua_pop(L, 1);
  // package.loaders: ours right after the preload searcher.
  lua_getfield(L, -1, "loaders");
  int n = static_cast<int>(lua_objlen(L, -1));
  for (int i = n; i >= 2; --i) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, trampoline<l_ochre_searcher>);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 3);

  for (const char* name : {"apply", "plan", "destroy"}) {
    lua_pushlightuserdata(L, &s);
    lua_pushstring(L, name);
    lua_pushcclosure(L, trampoline<l_ochre_apply>, 2);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);

  lua_pushlightuserdata(L, &s);
  if (s.borrowed) lua_getglobal(L, "print");
  else lua_pushnil(L);
  lua_pushcclosure(L, trampoline<l_ochre_print>, 2);
  lua_setglobal(L, "print");
}

}  // namespace ochre::lua
