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
#include <stdexcept>
#include <string>

#include "ochre/errors.hpp"

namespace ochre::lua {

// The text of LuaJIT's out-of-memory error (LUA_ERRMEM), which has no position.
inline constexpr const char* lua_memory_error = "not enough memory";

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
  bool owned() const { return owned_; }

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

// A native's caller did something wrong (a bad argument, a call in the wrong place):
// the trampoline raises it at the user's line, the first Lua frame that is not part of
// ochre's own Lua layer (chunks named "=[ochre ...]").
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A Lua error caught by call(), crossing C++ frames as an exception; the trampoline
// raises its text again, unchanged.
class LuaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// lua_call for natives: a Lua error becomes a LuaError, so it unwinds the native's C++
// frames as an exception and never as a Lua error. [-(nargs + 1), +nresults, -]
void call(lua_State* L, int nargs, int nresults);

// Pushes the message the trampoline raises for `e`: a UserError with the user's
// file:line, an Error as display() shows it, anything else as what(). [-0, +1, m]
void push_exception(lua_State* L, const std::exception& e);

// The one place where C++ exceptions become Lua errors. Natives throw (ochre::Error,
// UserError, LuaError) instead of calling lua_error. Only std::exception is caught:
// LuaJIT's own errors unwind through here untouched. The message is pushed inside the
// handler and lua_error raised after the try block has closed, with no C++ object alive
// in this frame, so every destructor has run.
template <int (*F)(lua_State*)>
int trampoline(lua_State* L) {
  bool failed = false;
  int results = 0;
  try {
    results = F(L);
  } catch (const std::exception& e) {
    push_exception(L, e);
    failed = true;
  }
  if (failed) return lua_error(L);
  return results;
}

// "file:line: " of the first Lua frame outside ochre's own Lua layer, or "".
std::string user_position(lua_State* L);

// Pushes the chunk of an embedded Lua file (not run); false when there is none. [-0, +0|1, -]
bool load_embedded(lua_State* L, const char* name);

// Runs one of the Lua files embedded in the binary. [-0, +nresults, e]
void run_embedded(lua_State* L, const char* name, int nresults);

}  // namespace ochre::lua
