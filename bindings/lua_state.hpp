// Owning a lua_State, balanced stacks, protected calls with tracebacks, and the
// trampoline where C++ exceptions become Lua errors.
#pragma once
extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <cassert>
#include <exception>
#include <string>

#include "ochre/errors.hpp"

namespace ochre::lua {

// Closes the state it created (not a borrowed one) on destruction.
class LuaState {
 public:
  // A fresh state with the standard libraries; its memory comes from LuaJIT's own
  // allocator, or from malloc with `use_malloc`.
  explicit LuaState(bool use_malloc = false);
  explicit LuaState(lua_State* host);  // borrows the host's state
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;
  lua_State* get() const { return L_; }

 private:
  lua_State* L_;
  bool owned_;
};

// Asserts (in debug builds) that a scope leaves the stack as it found it, plus `delta`.
class StackGuard {
 public:
  explicit StackGuard(lua_State* L, int delta = 0) : L_(L), top_(lua_gettop(L) + delta) {}
  ~StackGuard() {
    if (!std::uncaught_exceptions()) assert(lua_gettop(L_) == top_);
  }

 private:
  lua_State* L_;
  int top_;
};

// lua_pcall with debug.traceback as handler when `traceback` is set.
// [-(nargs + 1), +(nresults | 0), -]: on error pops everything and fills `error`.
bool pcall(lua_State* L, int nargs, int nresults, std::string* error, bool traceback = true);

// The text of the error object at the top of the stack, whatever its type. [-0, +0, -]
std::string error_text(lua_State* L, int idx = -1);

// The one place where C++ exceptions become Lua errors. Only std::exception is caught:
// LuaJIT's own errors unwind through here untouched, and lua_error is raised after the
// try block has closed, so every C++ destructor has run.
template <int (*F)(lua_State*)>
int trampoline(lua_State* L) {
  std::string message;
  try {
    return F(L);
  } catch (const Error& e) {
    message = e.display();
  } catch (const std::exception& e) {
    message = e.what();
  }
  lua_pushlstring(L, message.data(), message.size());
  return lua_error(L);
}

// Raises a Lua error positioned at the user's code: the first Lua frame that is not
// part of ochre's own Lua layer (chunks named "=[ochre ...]"). For natives.
[[noreturn]] void raise_at_user(lua_State* L, const std::string& msg);

// Pushes the chunk of an embedded Lua file (not run); false when there is none. [-0, +0|1, -]
bool load_embedded(lua_State* L, const char* name);

// Runs one of the Lua files embedded in the binary. [-0, +nresults, e]
void run_embedded(lua_State* L, const char* name, int nresults);

}  // namespace ochre::lua
