// Lua errors and C++ exceptions meet in the trampoline; destructors run across both.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "bindings/lua_state.hpp"

using namespace ochre::lua;

namespace {

int destroyed = 0;
struct Tracker {
  ~Tracker() { ++destroyed; }
};

int l_throws_cpp(lua_State*) {
  Tracker t;
  throw std::runtime_error("from C++");
}

int l_raises_lua(lua_State* L) {
  Tracker t;
  return luaL_error(L, "from Lua");
}

int l_calls_back(lua_State* L) {
  Tracker t;
  lua_pushvalue(L, 1);
  lua_call(L, 0, 0);  // the Lua function raises through this C++ frame
  return 0;
}

}  // namespace

TEST_CASE("C++ exceptions become Lua errors after destructors ran", "[lua][boundary]") {
  LuaState state;
  lua_State* L = state.get();
  destroyed = 0;
  lua_pushcfunction(L, trampoline<l_throws_cpp>);
  std::string err;
  CHECK_FALSE(pcall(L, 0, 0, &err, false));
  CHECK(err == "from C++");
  CHECK(destroyed == 1);
  CHECK(lua_gettop(L) == 0);
}

TEST_CASE("lua_error unwinds C++ frames and runs their destructors", "[lua][boundary]") {
  LuaState state;
  lua_State* L = state.get();
  destroyed = 0;
  lua_pushcfunction(L, trampoline<l_raises_lua>);
  std::string err;
  CHECK_FALSE(pcall(L, 0, 0, &err, false));
  CHECK(err.find("from Lua") != std::string::npos);
  CHECK(destroyed == 1);

  lua_pushcfunction(L, trampoline<l_calls_back>);
  luaL_loadstring(L, "error('deep')");
  CHECK_FALSE(pcall(L, 1, 0, &err, true));
  CHECK(err.find("deep") != std::string::npos);
  CHECK(err.find("stack traceback") != std::string::npos);
  CHECK(destroyed == 2);
  CHECK(lua_gettop(L) == 0);
}

namespace {

int l_throws_error(lua_State*) {
  Tracker t;
  std::string alive(100, 'x');  // a heap string the unwinding must free
  ochre::fail(ochre::Code::NotNow, {"not now"}, "here.lua:3");
}

int l_throws_user_error(lua_State*) {
  Tracker t;
  throw UserError("takes a string");
}

int l_calls_protected(lua_State* L) {
  Tracker t;
  std::string alive(100, 'y');
  lua_pushvalue(L, 1);
  call(L, 0, 0);  // the Lua error comes back as a LuaError
  return 0;
}

}  // namespace

TEST_CASE("natives throw instead of raising, and the trampoline raises after destructors ran",
          "[lua][boundary]") {
  LuaState state;
  lua_State* L = state.get();
  destroyed = 0;
  std::string err;

  lua_pushcfunction(L, trampoline<l_throws_error>);
  CHECK_FALSE(pcall(L, 0, 0, &err, false));
  CHECK(err == "here.lua:3: not now");
  CHECK(destroyed == 1);

  // A UserError names the user's line: the Lua code that called the native.
  lua_pushcfunction(L, trampoline<l_throws_user_error>);
  lua_setglobal(L, "native");
  REQUIRE(luaL_loadbuffer(L, "local x = 1\nnative()", 20, "=user.lua") == 0);
  CHECK_FALSE(pcall(L, 0, 0, &err, false));
  CHECK(err == "user.lua:2: takes a string");
  CHECK(destroyed == 2);

  // A Lua error under call() crosses the native as a C++ exception, text unchanged.
  lua_pushcfunction(L, trampoline<l_calls_protected>);
  REQUIRE(luaL_loadbuffer(L, "error('deep', 0)", 16, "=inner") == 0);
  CHECK_FALSE(pcall(L, 1, 0, &err, false));
  CHECK(err == "deep");
  CHECK(destroyed == 3);
  CHECK(lua_gettop(L) == 0);
}
