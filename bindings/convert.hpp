// Lua <-> Value. Tables with keys 1..n are arrays (an empty table is an empty array),
// string-keyed or number-keyed tables are maps, a mix is an error naming the path.
// Instances (tables whose metatable carries __ochre_type) become Refs.
#pragma once
#include <functional>
#include <string>

#include "bindings/lua_state.hpp"
#include "ochre/value.hpp"

namespace ochre::lua {

// True when the value at `idx` is a component instance. [-0, +0, -]
bool is_instance(lua_State* L, int idx);

// Converts the value at `idx`; `on_instance(abs_idx)` gives an instance's key.
// Throws ochre::Error(Code::BadValue) naming `path`, leaving the stack as it was. [-0, +0, -]
Value to_value(lua_State* L, int idx, const std::function<std::string(int)>& on_instance,
               const std::string& path);

// Appends the canonical encoding (engine/canonical.hpp) of the value at `idx` to `out`:
// what encoding to_value's Value gives, with the same checks and messages, without
// building it. `on_instance(abs_idx)` gives an instance's key (a view valid until the
// next call); instances are met in the order of the encoding. [-0, +0, -]
void encode_value(lua_State* L, int idx, const std::function<std::string_view(int)>& on_instance,
                  const std::string& path, std::string& out);

// Pushes `v`; `push_ref(key)` must push the instance for a Ref. [-0, +1, m]
void push_value(lua_State* L, const Value& v, const std::function<void(const std::string&)>& push_ref);

}  // namespace ochre::lua
