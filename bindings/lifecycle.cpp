// Lifecycle options from Lua to the engine: see lifecycle.hpp.
#include "bindings/lifecycle.hpp"

#include <algorithm>
#include <vector>

namespace ochre::lua {

Lifecycle read_lifecycle(lua_State* L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  auto number = [&](const char* name) {
    lua_getfield(L, idx, name);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
  };
  Lifecycle l;
  lua_getfield(L, idx, "protect");
  l.protect = lua_toboolean(L, -1);
  lua_getfield(L, idx, "pool");
  if (lua_type(L, -1) == LUA_TSTRING) l.pool = lua_tostring(L, -1);
  lua_pop(L, 2);
  l.retry.attempts = std::max(1, static_cast<int>(number("attempts")));
  l.retry.delay = number("delay");
  l.retry.backoff = number("backoff");
  l.timeout = number("timeout");
  return l;
}

int pool_size(Session& s, const std::string& pool, const Node& node) {
  lua_State* L = s.L();
  int top = lua_gettop(L);
  s.push_internal("settings");
  lua_getfield(L, -1, "pools");
  std::vector<std::string> names;
  int size = 0;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, pool.c_str());
    size = static_cast<int>(lua_tointeger(L, -1));
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING) names.push_back(lua_tostring(L, -1));
    }
  }
  lua_settop(L, top);
  if (size >= 1) return size;
  std::sort(names.begin(), names.end());
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  std::string hint = list.empty() ? std::string() : message(Msg::HintList, {"declared", list});
  fail(Msg::PoolUnknown, {node.key, pool, hint}, node.site);
  return 0;
}

}  // namespace ochre::lua
