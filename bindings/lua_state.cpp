#include "bindings/lua_state.hpp"

#include <cstdlib>
#include <cstring>

#include "ochre/errors.hpp"

namespace ochre::lua {

struct EmbeddedFile {
  const char* name;
  const char* text;
  std::size_t size;
  const char* code;  // its bytecode (scripts/embed.cmake), or null
  std::size_t code_size;
};
extern const EmbeddedFile embedded_files[];

namespace {

// Lua's memory through the process's malloc (Options::lua_uses_malloc).
void* allocate_with_malloc(void*, void* ptr, size_t, size_t size) {
  if (size == 0) {
    std::free(ptr);
    return nullptr;
  }
  return std::realloc(ptr, size);
}

}  // namespace

LuaState::LuaState(bool use_malloc)
    : L_(use_malloc ? lua_newstate(allocate_with_malloc, nullptr) : luaL_newstate()), owned_(true) {
  if (!L_) fail(Msg::LuaStateMemory);
  luaL_openlibs(L_);
}

LuaState::LuaState(lua_State* host) : L_(host), owned_(false) {}

LuaState::~LuaState() {
  if (owned_) lua_close(L_);
}

std::string error_text(lua_State* L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len = 0;
    const char* s = lua_tolstring(L, idx, &len);
    return std::string(s, len);
  }
  if (luaL_callmeta(L, idx, "__tostring")) {
    std::string s = lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object)";
    lua_pop(L, 1);
    return s;
  }
  return std::string("(error object is a ") + luaL_typename(L, idx) + " value)";
}

namespace {

int traceback_handler(lua_State* L) {
  std::string msg = error_text(L, 1);
  luaL_traceback(L, L, msg.c_str(), 1);
  return 1;
}

}  // namespace

bool pcall(lua_State* L, int nargs, int nresults, std::string* error, bool traceback) {
  int base = lua_gettop(L) - nargs;  // the function's slot
  if (traceback) {
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
  }
  int rc = lua_pcall(L, nargs, nresults, traceback ? base : 0);
  if (traceback) lua_remove(L, base);
  if (rc == 0) return true;
  if (error) *error = error_text(L, -1);
  lua_pop(L, 1);
  return false;
}

std::string user_position(lua_State* L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); ++level) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0 || std::strncmp(ar.source, "=[ochre", 7) == 0) continue;
    return std::string(ar.short_src) + ":" + std::to_string(ar.currentline) + ": ";
  }
  return {};
}

void call(lua_State* L, int nargs, int nresults) {
  std::string err;
  if (!pcall(L, nargs, nresults, &err, false)) throw LuaError(err);
}

void push_exception(lua_State* L, const std::exception& e) {
  std::string text;
  if (dynamic_cast<const UserError*>(&e)) text = user_position(L) + e.what();
  else if (auto* error = dynamic_cast<const Error*>(&e)) text = error->display();
  else text = e.what();
  lua_pushlstring(L, text.data(), text.size());
}

namespace {

// Loads an embedded file: its bytecode, or its source when there is none or this LuaJIT
// cannot load it (another version or build). [-0, +1, -]
int load_file(lua_State* L, const EmbeddedFile* f, const char* chunk) {
  if (f->code && luaL_loadbuffer(L, f->code, f->code_size, chunk) == 0) return 0;
  if (f->code) lua_pop(L, 1);
  return luaL_loadbuffer(L, f->text, f->size, chunk);
}

}  // namespace

bool load_embedded(lua_State* L, const char* name) {
  for (const EmbeddedFile* f = embedded_files; f->name; ++f) {
    if (std::strcmp(f->name, name) != 0) continue;
    std::string chunk = std::string("=[ochre ") + name + "]";
    if (load_file(L, f, chunk.c_str()) != 0) {
      std::string err = error_text(L);
      lua_pop(L, 1);
      fail(Code::Internal, {err});
    }
    return true;
  }
  return false;
}

void run_embedded(lua_State* L, const char* name, int nresults) {
  for (const EmbeddedFile* f = embedded_files; f->name; ++f) {
    if (std::strcmp(f->name, name) != 0) continue;
    std::string chunk = std::string("=[ochre ") + name + "]";
    if (load_file(L, f, chunk.c_str()) != 0) {
      std::string err = error_text(L);
      lua_pop(L, 1);
      fail(Code::Internal, {err});
    }
    std::string err;
    if (!pcall(L, 0, nresults, &err)) fail(Code::Internal, {err});
    return;
  }
  fail(Msg::NoEmbedded, {name});
}

}  // namespace ochre::lua
