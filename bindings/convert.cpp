#include "bindings/convert.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "engine/canonical.hpp"
#include "ochre/errors.hpp"

namespace ochre::lua {

bool is_instance(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return false;
  lua_pushliteral(L, "__ochre_type");
  lua_rawget(L, -2);
  bool yes = !lua_isnil(L, -1);
  lua_pop(L, 2);
  return yes;
}

namespace {

// Where a value sits in a field ("f.a[2]"), spelled out only for a message: most
// values convert without one. Each part lives on the C++ stack, its key on Lua's.
struct Path {
  const Path* parent = nullptr;
  const std::string* field = nullptr;  // the root: the field's name
  lua_State* L = nullptr;
  int key_idx = 0;  // the key below the parent

  std::string text() const {
    if (field) return *field;
    std::string base = parent->text();
    if (lua_type(L, key_idx) == LUA_TSTRING) return base + "." + lua_tostring(L, key_idx);
    char buf[64];
    std::snprintf(buf, sizeof buf, "[%.17g]", lua_tonumber(L, key_idx));
    return base + buf;
  }
};

// The checks every value gets, with the user's path in their messages, and the tables on
// the way down (a table inside itself is a cycle).
struct Checks {
  std::unordered_set<const void*> on_path;

  // `key`: the bad number is a key of the table at `path`, not a value.
  [[noreturn]] void bad(const Path& path, const std::string& what, bool key = false) {
    fail(Msg::ValueAt, {path.text(), key ? message(Msg::ValueKeySuffix) : std::string(), what});
  }

  Value number(double x, const Path& path, bool key = false) {
    if (std::isnan(x)) bad(path, message(Msg::ValueNan), key);
    if (std::isinf(x)) bad(path, message(Msg::ValueInfinite), key);
    return Value::of_number(x);
  }
};

// The canonical encoding of a Lua value, straight from the table, with its checks and
// messages. Maps are written in key order, so instances are met in the order of the
// encoding. The one walker of Lua values: to_value decodes what it writes.
struct Encoder {
  lua_State* L;
  const std::function<std::string_view(int)>& on_instance;
  Checks checks;
  std::string& out;

  // A map's key, to sort: strings by bytes, numbers numerically.
  struct Key {
    std::string_view text;
    double number = 0;
  };

  void encode(int idx, const Path& path) {
    switch (lua_type(L, idx)) {
      case LUA_TNIL: out += 'n'; return;
      case LUA_TBOOLEAN: out += lua_toboolean(L, idx) ? 't' : 'f'; return;
      case LUA_TNUMBER: encode_number(checks.number(lua_tonumber(L, idx), path).number, out); return;
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L, idx, &len);
        encode_string(std::string_view(s, len), out);
        return;
      }
      case LUA_TTABLE: break;
      default:
        checks.bad(path, message(Msg::ValueType, {luaL_typename(L, idx)}));
    }
    if (is_instance(L, idx)) {
      out += 'r';
      encode_string(on_instance(idx), out);
      return;
    }
    if (lua_getmetatable(L, idx)) {
      lua_pop(L, 1);
      checks.bad(path, message(Msg::ValueMetatable));
    }
    const void* ptr = lua_topointer(L, idx);
    if (!checks.on_path.insert(ptr).second) checks.bad(path, message(Msg::ValueCycle));
    if (!lua_checkstack(L, 4)) checks.bad(path, message(Msg::ValueTooDeep));

    // First the keys, which decide array or map; then the values, in the encoding's order.
    bool strings = false, numbers = false, integral = true;
    double max_key = 0;
    size_t n = 0;
    std::vector<Key> keys;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      int kt = lua_type(L, -2);
      Key key;
      if (kt == LUA_TSTRING) {
        strings = true;
        size_t len = 0;
        const char* s = lua_tolstring(L, -2, &len);  // the table keeps it alive
        key.text = std::string_view(s, len);
      } else if (kt == LUA_TNUMBER) {
        numbers = true;
        key.number = checks.number(lua_tonumber(L, -2), path, true).number;
        if (key.number > max_key) max_key = key.number;
        if (key.number != std::floor(key.number) || key.number < 1) integral = false;
      } else {
        std::string tname = luaL_typename(L, -2);
        lua_pop(L, 2);
        checks.bad(path, message(Msg::ValueKeyType, {tname}));
      }
      if (strings && numbers) {
        lua_pop(L, 2);
        checks.bad(path, message(Msg::ValueMixedKeys));
      }
      ++n;
      keys.push_back(key);
      lua_pop(L, 1);
    }
    if (!strings && integral && max_key == static_cast<double>(n)) {  // an array (or {})
      out += 'l';
      for (size_t i = 1; i <= n; ++i) {
        lua_pushnumber(L, static_cast<double>(i));
        lua_rawgeti(L, idx, static_cast<int>(i));
        encode(lua_gettop(L), Path{&path, nullptr, L, lua_gettop(L) - 1});
        lua_pop(L, 2);
      }
      out += 'e';
    } else {
      if (strings)
        std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.text < b.text; });
      else
        std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.number < b.number; });
      out += 'm';
      for (const Key& k : keys) {
        if (strings) {
          encode_string(k.text, out);
          lua_pushlstring(L, k.text.data(), k.text.size());
        } else {
          encode_number(k.number, out);
          lua_pushnumber(L, k.number);
        }
        lua_pushvalue(L, -1);
        lua_rawget(L, idx);
        encode(lua_gettop(L), Path{&path, nullptr, L, lua_gettop(L) - 1});
        lua_pop(L, 2);
      }
      out += 'e';
    }
    checks.on_path.erase(ptr);
  }
};

}  // namespace

void encode_value(lua_State* L, int idx, const std::function<std::string_view(int)>& on_instance,
                  const std::string& path, std::string& out) {
  int top = lua_gettop(L);
  if (idx < 0) idx = top + idx + 1;
  Encoder e{L, on_instance, Checks{}, out};
  Path root{nullptr, &path, L, 0};
  try {
    e.encode(idx, root);
  } catch (...) {
    lua_settop(L, top);
    throw;
  }
}

Value to_value(lua_State* L, int idx, const std::function<std::string(int)>& on_instance,
               const std::string& path) {
  std::string key;  // the last instance's key, alive while the encoder copies it
  std::function<std::string_view(int)> ref = [&](int i) -> std::string_view {
    key = on_instance(i);
    return key;
  };
  std::string encoded;
  encode_value(L, idx, ref, path, encoded);
  return decode(encoded);
}

void push_value(lua_State* L, const Value& v, const std::function<void(const std::string&)>& push_ref) {
  if (!lua_checkstack(L, 3)) throw LuaError("stack overflow (value too deep)");
  switch (v.kind) {
    case Value::Kind::Nil: lua_pushnil(L); break;
    case Value::Kind::Bool: lua_pushboolean(L, v.boolean); break;
    case Value::Kind::Number: lua_pushnumber(L, v.number); break;
    case Value::Kind::String: lua_pushlstring(L, v.text.data(), v.text.size()); break;
    case Value::Kind::Ref: push_ref(v.text); break;
    case Value::Kind::Array:
      lua_createtable(L, static_cast<int>(v.items.size()), 0);
      for (size_t i = 0; i < v.items.size(); ++i) {
        push_value(L, v.items[i], push_ref);
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      break;
    case Value::Kind::Map:
      lua_createtable(L, 0, static_cast<int>(v.entries.size()));
      for (const auto& [k, val] : v.entries) {
        push_value(L, k, push_ref);
        push_value(L, val, push_ref);
        lua_rawset(L, -3);
      }
      break;
  }
}

}  // namespace ochre::lua
