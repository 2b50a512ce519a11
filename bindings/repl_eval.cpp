// The REPL's side of a session: Lua typed at the prompt run in the pipeline's state,
// with the globals `ochre`, `types` and `instances`, the pipeline file's top-level
// locals in scope, and Ctrl-C stopping a line that runs too long.
#include <string>

#include "bindings/session.hpp"

namespace ochre::lua {
namespace {

// The registry's key for the chunk keep_locals() waits for.
const char* const main_chunk_key = "ochre.main_chunk";

// On each return while the pipeline file runs: when the returning function is the
// file's chunk, its active locals (all its top-level ones, at its last line) go into
// internal.locals = { names = { name = true }, values = { name = value } }, a later
// local of the same name winning as it does in the file.
void on_return(lua_State* L, lua_Debug* ar) {
  if (ar->event != LUA_HOOKRET || !lua_getinfo(L, "f", ar)) return;
  lua_getfield(L, LUA_REGISTRYINDEX, main_chunk_key);
  bool main = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!main) return;
  lua_newtable(L);  // names
  lua_newtable(L);  // values
  for (int i = 1;; ++i) {
    const char* name = lua_getlocal(L, ar, i);
    if (!name) break;
    if (name[0] == '(') {  // a temporary, not a local of the file
      lua_pop(L, 1);
      continue;
    }
    lua_setfield(L, -2, name);
    lua_pushboolean(L, 1);
    lua_setfield(L, -3, name);
  }
  lua_createtable(L, 0, 2);
  lua_insert(L, -3);
  lua_setfield(L, -3, "values");
  lua_setfield(L, -2, "names");
  // kept under the key's address until keep_locals(0) moves it to internal.locals
  lua_pushlightuserdata(L, const_cast<char*>(main_chunk_key));
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

// Raises "interrupted" in whatever Lua code runs when Ctrl-C came.
void on_interrupt(lua_State* L, lua_Debug*) {
  lua_sethook(L, nullptr, 0, 0);
  lua_pushstring(L, message(Msg::EvalInterrupted).c_str());
  lua_error(L);
}

// The environment of REPL lines: the file's top-level locals first, then the globals;
// assigning one of those names changes the REPL's copy, any other a global. (The file's
// own functions keep their upvalues: the copies are the values when the file returned.)
const char* const env_source = R"(local locals, G = ...
return setmetatable({}, {
  __index = function(_, k) if locals.names[k] then return locals.values[k] end return G[k] end,
  __newindex = function(_, k, v) if locals.names[k] then locals.values[k] = v else G[k] = v end end,
}))";

}  // namespace

void Session::keep_locals(int idx) {
  lua_State* L = this->L();
  if (idx == 0) {
    if (lua_gethook(L) == on_return) lua_sethook(L, nullptr, 0, 0);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, main_chunk_key);
    // move what the hook kept into internal.locals
    lua_pushlightuserdata(L, const_cast<char*>(main_chunk_key));
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1)) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
      lua_insert(L, -2);
      lua_setfield(L, -2, "locals");
      lua_pushnil(L);
      lua_setfield(L, -2, "repl_env");
    }
    lua_pop(L, 1);
    lua_pushlightuserdata(L, const_cast<char*>(main_chunk_key));
    lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return;
  }
  lua_pushvalue(L, idx);
  lua_setfield(L, LUA_REGISTRYINDEX, main_chunk_key);
  lua_sethook(L, on_return, LUA_MASKRET, 0);
}

void Session::interrupt() { lua_sethook(L(), on_interrupt, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1); }

namespace {

// Pushes the environment for REPL lines (internal.repl_env, made once per load), or
// nothing when the file's locals were not kept. Returns whether it pushed one.
bool push_env(Session& s, lua_State* L) {
  s.push_internal("repl_env");
  if (lua_istable(L, -1)) return true;
  lua_pop(L, 1);
  s.push_internal("locals");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return false;
  }
  if (luaL_loadbuffer(L, env_source, std::char_traits<char>::length(env_source), "=repl_env") != 0) {
    lua_pop(L, 2);
    return false;
  }
  lua_insert(L, -2);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_call(L, 2, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.internal_ref);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "repl_env");
  lua_pop(L, 1);
  return true;
}

}  // namespace

std::string Session::eval(const std::string& code, bool& incomplete, const Graph* graph) {
  lua_State* L = this->L();
  if (!repl_globals_) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, module_ref);
    lua_setglobal(L, "ochre");
    push_internal("types");
    lua_setglobal(L, "types");
    repl_globals_ = true;
  }
  if (graph && !uuids_published_) {
    publish_uuids(*graph);
    uuids_published_ = true;
    lua_createtable(L, 0, static_cast<int>(graph->nodes().size()));  // instances, by key
    for (const Node& n : graph->nodes()) {
      lua_pushlstring(L, n.key.data(), n.key.size());
      lua_rawgeti(L, LUA_REGISTRYINDEX, n.handle);
      lua_rawset(L, -3);
    }
    lua_setglobal(L, "instances");
  }
  incomplete = false;
  int top = lua_gettop(L);
  std::string as_return = "return " + code;
  if (luaL_loadbuffer(L, as_return.data(), as_return.size(), "=repl") != 0) {
    // Either form stopping at the end of the input means more lines are to come.
    std::string as_expr = error_text(L);
    lua_pop(L, 1);
    auto at_eof = [](std::string err) {  // LuaJIT says: ... near '<eof>'
      static const std::string eof = "<eof>";
      if (!err.empty() && err.back() == '\'') err.pop_back();
      return err.size() > eof.size() && err.compare(err.size() - eof.size(), eof.size(), eof) == 0;
    };
    if (luaL_loadbuffer(L, code.data(), code.size(), "=repl") != 0) {
      std::string err = error_text(L);
      lua_pop(L, 1);
      if (at_eof(err) || at_eof(as_expr)) {
        incomplete = true;
        return {};
      }
      fail(Code::LuaSyntax, {err});
    }
  }
  if (push_env(*this, L)) lua_setfenv(L, -2);
  std::string err;
  bool ok = pcall(L, 0, LUA_MULTRET, &err, false);
  if (lua_gethook(L) == on_interrupt) lua_sethook(L, nullptr, 0, 0);  // Ctrl-C came too late
  if (!ok) fail(Code::LuaRuntime, {err});
  int n = lua_gettop(L) - top;
  std::string out;
  for (int i = 1; i <= n; ++i) {
    push_internal("pretty");
    lua_pushvalue(L, top + i);
    std::string e;
    if (!pcall(L, 1, 1, &e, false)) {
      out += (i > 1 ? "\t" : "") + std::string("<") + luaL_typename(L, top + i) + ">";
      continue;
    }
    out += (i > 1 ? "\t" : "") + std::string(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return out;
}

}  // namespace ochre::lua
