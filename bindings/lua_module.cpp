// require "ochre" from a LuaJIT host: the module's own engine, whose apply, plan and
// destroy run for real (ochre.apply(x [, opts])), owned by a userdata in the registry.
#include <cstdlib>

#include "bindings/session.hpp"
#include "ochre/ochre.hpp"

namespace ochre {

namespace {

// A LuaJIT host's ochre.apply(x [, opts]) / ochre.plan / ochre.destroy, run for real.
// opts: { state = PATH, jobs = N, quiet = BOOL }. Returns a table (see README).
int lua_verb(Engine& engine, lua::Session& s, lua_State* L, const std::string& verb) {
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "state");
    if (lua_isstring(L, -1)) engine.set_state_path(lua_tostring(L, -1));
    lua_getfield(L, 2, "jobs");
    if (lua_isnumber(L, -1)) s.options.jobs = static_cast<int>(lua_tonumber(L, -1));
    lua_pop(L, 2);
  }
  bool quiet = false;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "quiet");
    quiet = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  s.set_roots(1);
  if (verb == "destroy") engine.plan_destroy();
  else engine.plan();
  if (!quiet) s.write_output(L, engine.plan_table());
  if (verb == "plan") {
    auto jobs = engine.jobs();
    lua_createtable(L, static_cast<int>(jobs.size()), 0);
    for (const JobInfo& j : jobs) {
      lua_createtable(L, 0, 6);
      lua_pushstring(L, j.action.c_str());
      lua_setfield(L, -2, "action");
      lua_pushstring(L, j.key.c_str());
      lua_setfield(L, -2, "key");
      lua_pushstring(L, j.uuid.c_str());
      lua_setfield(L, -2, "uuid");
      lua_pushstring(L, j.details.c_str());
      lua_setfield(L, -2, "details");
      lua_pushstring(L, j.reason.c_str());
      lua_setfield(L, -2, "reason");
      lua_createtable(L, static_cast<int>(j.deps.size()), 0);
      for (size_t i = 0; i < j.deps.size(); ++i) {
        lua_pushinteger(L, j.deps[i]);
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      lua_setfield(L, -2, "deps");
      lua_rawseti(L, -2, j.index + 1);
    }
    return 1;
  }
  Callbacks cb;
  cb.finished = [&](const JobInfo& job, const JobEnd& end) {
    if (quiet || end.outcome == "done") return;
    s.write_output(L, end.outcome + ": " + job.details + (end.error.empty() ? "" : ": " + end.error) + "\n");
  };
  RunResult r = engine.apply(cb);
  lua_createtable(L, 0, 7);
  for (auto [name, n] : {std::pair{"done", r.done}, {"failed", r.failed}, {"skipped", r.skipped},
                         {"pending", r.pending}, {"waiting", r.waiting}}) {
    lua_pushinteger(L, n);
    lua_setfield(L, -2, name);
  }
  lua_pushboolean(L, r.exit_code() == 0);
  lua_setfield(L, -2, "ok");
  lua_pushstring(L, r.nothing_to_do ? no_changes_text : r.summary.c_str());
  lua_setfield(L, -2, "summary");
  return 1;
}

int l_engine_gc(lua_State* L) {
  auto** box = static_cast<Engine**>(lua_touserdata(L, 1));
  delete *box;
  *box = nullptr;
  return 0;
}

}  // namespace

}  // namespace ochre

namespace ochre {
namespace {

// require "ochre" in a LuaJIT host: one engine per Lua state, owned by a userdata in the
// registry (closed with the state), whose module's apply/plan/destroy run for real.
int open_module(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "ochre.engine");
  if (lua_isuserdata(L, -1)) {
    Engine* e = *static_cast<Engine**>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LuaModule::session(*e).module_ref);
    return 1;
  }
  lua_pop(L, 1);
  // The box exists (closed, empty) before the engine does, so __gc is always safe.
  auto** box = static_cast<Engine**>(lua_newuserdata(L, sizeof(Engine*)));
  *box = nullptr;
  lua_newtable(L);
  lua_pushcfunction(L, l_engine_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "ochre.engine");
  Options o;
  if (const char* st = std::getenv("OCHRE_STATE"); st && *st) o.state_path = st;
  else o.state_path = ".ochre/state.db";
  if (const char* ws = std::getenv("OCHRE_WORKSPACE"); ws && *ws) o.workspace = ws;
  *box = new Engine(L, o);
  Engine* e = *box;
  lua::Session& s = LuaModule::session(*e);
  s.set_source("lua");
  s.lua_verb = [e, &s](lua_State* LL, const char* verb) { return lua_verb(*e, s, LL, verb); };
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.module_ref);
  return 1;
}

}  // namespace
}  // namespace ochre

// An error opening the module is raised by the trampoline, after every C++ object of
// open_module is gone.
extern "C" int luaopen_ochre(lua_State* L) { return ochre::lua::trampoline<ochre::open_module>(L); }
