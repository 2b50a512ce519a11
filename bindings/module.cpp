// The `ochre` Lua module: the DSL from dsl.lua plus the natives, installed into a
// session's Lua state. The session travels to natives as an upvalue, never a global.
#include "bindings/session.hpp"

namespace ochre::lua {
namespace {

Session& session_of(lua_State* L) {
  return *static_cast<Session*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// print(...) as Lua's, but into the running job's captured output too.
int l_ochre_print(lua_State* L) {
  Session& s = session_of(L);
  int n = lua_gettop(L);
  std::string line;
  lua_getglobal(L, "tostring");
  for (int i = 1; i <= n; ++i) {
    lua_pushvalue(L, -1);
    lua_pushvalue(L, i);
    lua_call(L, 1, 1);
    size_t len = 0;
    const char* t = lua_tolstring(L, -1, &len);
    if (!t) return luaL_error(L, "'tostring' must return a string to 'print'");
    if (i > 1) line += '\t';
    line.append(t, len);
    lua_pop(L, 1);
  }
  line += '\n';
  s.write_output(line);
  return 0;
}

// ochre.apply(x) / ochre.plan(x) / ochre.destroy(x) inside a pipeline run by a host:
// x (an instance or a list of them) becomes the roots the host's command works on.
int l_ochre_apply(lua_State* L) {
  Session& s = session_of(L);
  s.set_roots(1);
  return 0;
}

int l_ochre_preload(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

}  // namespace

void Session::write_output(std::string_view text) {
  if (capture) capture->append(text);
  if (options.output) {
    options.output(text);
  } else {
    fwrite(text.data(), 1, text.size(), stdout);
    fflush(stdout);
  }
}

void install_module(Session& s) {
  lua_State* L = s.L();
  StackGuard guard(L);
  run_embedded(L, "dsl", 2);  // M, internal
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
  lua_pop(L, 3);

  for (const char* name : {"apply", "plan", "destroy"}) {
    lua_pushlightuserdata(L, &s);
    lua_pushcclosure(L, trampoline<l_ochre_apply>, 1);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 1);

  lua_pushlightuserdata(L, &s);
  lua_pushcclosure(L, trampoline<l_ochre_print>, 1);
  lua_setglobal(L, "print");
}

}  // namespace ochre::lua
