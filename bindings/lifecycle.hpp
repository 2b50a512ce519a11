// Reading the DSL's lifecycle options (bindings/dsl.lua) into the engine's Lifecycle,
// and the pools of ochre.settings.
#pragma once
#include <string>

#include "bindings/session.hpp"
#include "engine/graph.hpp"

namespace ochre::lua {

// The normalized lifecycle table at `idx` (as dsl.lua's merge_lifecycle makes it).
// [-0, +0, -]
Lifecycle read_lifecycle(lua_State* L, int idx);

// How many jobs ochre.settings { pools = { ... } } lets `pool` run at once; an
// undeclared pool is a user error at `node`'s declaration. [-0, +0, e]
int pool_size(Session& s, const std::string& pool, const Node& node);

}  // namespace ochre::lua
