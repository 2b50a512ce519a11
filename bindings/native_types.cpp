// Component types whose hooks are C++ callables (a host's Texture or Shader). They are
// ordinary ochre.component types in Lua whose hooks are C closures: the closure turns
// the instance into an ochre::Instance, calls the host, and turns the result back.
#include "bindings/convert.hpp"
#include "bindings/session.hpp"

namespace ochre::lua {
namespace {

enum HookKind { Create, Update, Delete, Read };

Session& session_of(lua_State* L) {
  return *static_cast<Session*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// The instance at `idx` as the host sees it. [-0, +0, e]
Instance instance_of(Session& s, lua_State* L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  s.push_internal(L, "info");
  lua_pushvalue(L, idx);
  call(L, 1, 3);  // T, site, values
  int t = lua_gettop(L) - 2;
  int values = t + 2;
  Instance in;
  lua_getfield(L, t, "name");
  in.type = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, values, "identifier");
  in.identifier = lua_tostring(L, -1);
  lua_pop(L, 1);
  in.key = in.type + "/" + in.identifier;
  auto ref_key = [&](int child) -> std::string {
    // A sub-component: its key, and its outputs for the host.
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, child);
    call(L, 1, 1);
    std::string key = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, child, "outputs");
    in.dep_outputs[key] = lua_isnil(L, -1) ? Value::map()
                                           : to_value(L, -1, [](int) -> std::string { return {}; }, "outputs");
    lua_pop(L, 1);
    return key;
  };
  lua_getfield(L, t, "field_names");
  int names = lua_gettop(L);
  for (int i = 1, n = static_cast<int>(lua_objlen(L, names)); i <= n; ++i) {
    lua_rawgeti(L, names, i);
    std::string f = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, values, f.c_str());
    in.fields.emplace_back(f, to_value(L, -1, ref_key, f));
    lua_pop(L, 1);
  }
  in.fields.emplace_back("identifier", Value::of_string(in.identifier));
  std::sort(in.fields.begin(), in.fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  lua_getfield(L, values, "outputs");
  in.outputs = lua_isnil(L, -1) ? Value::map() : to_value(L, -1, [](int) -> std::string { return {}; }, "outputs");
  lua_settop(L, t - 1);
  return in;
}

// t[k] = v, called protected: the instance's __newindex may raise. [-3, +0, e]
int l_settable(lua_State* L) {
  lua_settable(L, 1);
  return 0;
}

// Writes fields the host's read hook changed back into the instance. [-0, +0, e]
void write_back(Session& s, lua_State* L, int idx, const Instance& before, const Instance& after) {
  for (const auto& [name, v] : after.fields) {
    if (name == "identifier") continue;
    const Value* old = before.field(name);
    if (old && *old == v) continue;
    lua_pushcfunction(L, l_settable);
    lua_pushvalue(L, idx);
    lua_pushlstring(L, name.data(), name.size());
    push_value(L, v, [&](const std::string& key) { lua_pushlstring(L, key.data(), key.size()); });
    call(L, 3, 0);  // validated by the instance's __newindex
  }
  (void)s;
}

int l_native_hook(lua_State* L) {
  Session& s = session_of(L);
  auto* type = static_cast<NativeType*>(lua_touserdata(L, lua_upvalueindex(2)));
  auto kind = static_cast<HookKind>(lua_tointeger(L, lua_upvalueindex(3)));
  Instance self = instance_of(s, L, 1);
  Value result;
  switch (kind) {
    case Create: result = type->create(self); break;
    case Update: result = type->update(self, instance_of(s, L, 2)); break;
    case Delete: type->remove(self); break;
    case Read: {
      Instance changed = self;
      type->read(changed);
      write_back(s, L, 1, self, changed);
      break;
    }
  }
  if (result.is_nil()) return 0;
  push_value(L, result, [&](const std::string& key) { lua_pushlstring(L, key.data(), key.size()); });
  return 1;
}

}  // namespace

void define_native_type(Session& s, NativeType type) {
  lua_State* L = s.L();
  StackGuard guard(L);
  s.native_types.push_back(std::make_unique<NativeType>(std::move(type)));
  NativeType* t = s.native_types.back().get();

  lua_rawgeti(L, LUA_REGISTRYINDEX, s.module_ref);
  lua_getfield(L, -1, "component");
  lua_pushlstring(L, t->name.data(), t->name.size());
  std::string err;
  if (!pcall(L, 1, 1, &err, false)) fail(Msg::NativeType, {t->name, err});

  lua_newtable(L);  // the spec
  lua_newtable(L);
  for (const auto& [name, v] : t->fields) {
    push_value(L, v, [&](const std::string&) { lua_pushnil(L); });
    lua_setfield(L, -2, name.c_str());
  }
  for (const auto& name : t->required) {
    s.push_internal("REQUIRED");
    lua_setfield(L, -2, name.c_str());
  }
  lua_setfield(L, -2, "fields");
  lua_newtable(L);
  for (size_t i = 0; i < t->breaks.size(); ++i) {
    lua_pushstring(L, t->breaks[i].c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, -2, "breaks");
  lua_newtable(L);
  for (size_t i = 0; i < t->sensitive.size(); ++i) {
    lua_pushstring(L, t->sensitive[i].c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, -2, "sensitive");
  auto hook = [&](const char* name, HookKind kind, bool present) {
    if (!present) return;
    lua_pushlightuserdata(L, &s);
    lua_pushlightuserdata(L, t);
    lua_pushinteger(L, kind);
    lua_pushcclosure(L, trampoline<l_native_hook>, 3);
    lua_setfield(L, -2, name);
  };
  hook("create", Create, static_cast<bool>(t->create));
  hook("update", Update, static_cast<bool>(t->update));
  hook("delete", Delete, static_cast<bool>(t->remove));
  hook("read", Read, static_cast<bool>(t->read));
  if (!pcall(L, 1, 1, &err, false)) fail(Msg::NativeType, {t->name, err});
  lua_setfield(L, -2, t->name.c_str());  // ochre.<Name>
  lua_pop(L, 1);
}

}  // namespace ochre::lua
