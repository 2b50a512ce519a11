// The Lua host's life and loading: the session's Lua state and loop, running a pipeline
// file or text, its roots and settings, what its types declare (the REPL's eval:
// repl_eval.cpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <unordered_set>

#include "bindings/convert.hpp"
#include "bindings/session.hpp"
#include "engine/canonical.hpp"
#include "engine/timing.hpp"

namespace ochre::lua {

Session::Session(Options& opts, lua_State* host)
    : options(opts), borrowed(host != nullptr), lua_(host ? LuaState(host) : LuaState(options.lua_uses_malloc)) {
  if (int rc = uv_loop_init(&loop_)) fail(Msg::UvLoopInit, {uv_strerror(rc)});
  install_module(*this);
}

Session::~Session() {
  // Nothing may outlive the session: kill what hooks wait on, close every handle.
  // Cluster jobs are left running: the journal re-attaches to them.
  if (slurm) slurm->close();
  abandon_all();
  for (Wait* w : std::vector<Wait*>(waits.begin(), waits.end())) {
    w->cancel();
    w->release();
  }
  spawner.reset();
  while (uv_run(&loop_, UV_RUN_NOWAIT)) {
  }
  uv_walk(&loop_, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void Session::push_internal(const char* name) { push_internal(L(), name); }

void Session::push_internal(lua_State* L, const char* name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

void Session::push_type(const std::string& type) { push_type(L(), type); }

void Session::push_type(lua_State* L, const std::string& type) {
  push_internal(L, "types");
  lua_pushlstring(L, type.data(), type.size());
  lua_rawget(L, -2);
  lua_remove(L, -2);
}

const TypeInfo& Session::type_info(int idx) {
  lua_State* L = this->L();
  const void* ptr = lua_topointer(L, idx);
  auto it = types.find(ptr);
  if (it != types.end()) return it->second;
  StackGuard guard(L);
  TypeInfo t;
  lua_getfield(L, idx, "name");
  t.name = lua_tostring(L, -1);
  lua_getfield(L, idx, "breaks");
  for (int i = 1, n = (int)lua_objlen(L, -1); i <= n; ++i) {
    lua_rawgeti(L, -1, i);
    t.breaks.push_back(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_getfield(L, idx, "field_names");
  for (int i = 1, n = (int)lua_objlen(L, -1); i <= n; ++i) {
    lua_rawgeti(L, -1, i);
    t.field_names.push_back(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pushvalue(L, -1);
  t.names_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, idx, "hooks");
  lua_getfield(L, -1, "read");
  t.has_read = lua_isfunction(L, -1);
  lua_getfield(L, idx, "cutoff");
  t.cutoff_fn = lua_isfunction(L, -1);
  t.cutoff = !t.cutoff_fn && lua_toboolean(L, -1);
  lua_pop(L, 6);
  lua_getfield(L, idx, "sensitive");
  if (lua_istable(L, -1))
    for (int i = 1, n = (int)lua_objlen(L, -1); i <= n; ++i) {
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) == LUA_TSTRING) t.sensitive.push_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  lua_pop(L, 1);
  lua_getfield(L, idx, "fields");
  push_internal("REQUIRED");
  push_internal("OPTIONAL");
  for (const auto& f : t.field_names) {
    lua_getfield(L, -3, f.c_str());
    if (lua_rawequal(L, -1, -3)) t.required.push_back(f);
    t.optional.push_back(lua_rawequal(L, -1, -2) ? 1 : 0);
    lua_pop(L, 1);
  }
  lua_pop(L, 3);
  return types.emplace(ptr, std::move(t)).first->second;
}

namespace {

// Splits Lua's "file:line: message" so the position prints as the user's file:line.
[[noreturn]] void lua_user_error(Code code, const std::string& msg) {
  size_t colon = msg.find(':');
  while (colon != std::string::npos) {
    size_t digits = colon + 1;
    while (digits < msg.size() && std::isdigit(static_cast<unsigned char>(msg[digits]))) ++digits;
    if (digits > colon + 1 && msg.compare(digits, 2, ": ") == 0)
      throw Error(code, message(code, {msg.substr(digits + 2)}), msg.substr(0, digits));
    colon = msg.find(':', colon + 1);
    if (colon != std::string::npos && msg.find('\n') < colon) break;
  }
  throw Error(code, message(code, {msg}));
}

// While a pipeline loads, the collector stops: what a pipeline builds (its instances)
// lives on, and tracing it as it grows costs a million-component load a quarter of its
// time. Garbage would pile up meanwhile, so the stop has a ceiling: once the pipeline
// has grown Lua's memory by `headroom` bytes (Options::load_headroom), the collector
// runs again as usual. The memory goes through a wrapper of Lua's own allocator that
// counts it; a Lua state a host lent keeps its allocator, and only the pause changes.
class LoadCollector {
 public:
  LoadCollector(lua_State* L, bool owned, size_t headroom) : L_(L), headroom_(headroom) {
    pause_ = lua_gc(L, LUA_GCSETPAUSE, 400);  // after the ceiling: a cycle at 4x, not 2x
    if (!owned || headroom == 0) return;
    alloc_ = lua_getallocf(L, &ud_);
    lua_setallocf(L, counting_alloc, this);
    lua_gc(L, LUA_GCSTOP, 0);
    stopped_ = true;
  }
  ~LoadCollector() {
    if (alloc_) lua_setallocf(L_, alloc_, ud_);
    if (stopped_) lua_gc(L_, LUA_GCRESTART, 0);
    lua_gc(L_, LUA_GCSETPAUSE, pause_);
  }
  LoadCollector(const LoadCollector&) = delete;
  LoadCollector& operator=(const LoadCollector&) = delete;

 private:
  static void* counting_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
    auto* self = static_cast<LoadCollector*>(ud);
    void* out = self->alloc_(self->ud_, ptr, osize, nsize);
    if (out || nsize == 0) self->grown_ += static_cast<long long>(nsize) - static_cast<long long>(ptr ? osize : 0);
    if (self->stopped_ && self->grown_ > static_cast<long long>(self->headroom_)) {
      // Only sets the collector's threshold: nothing is allocated or traced here.
      lua_gc(self->L_, LUA_GCRESTART, 0);
      self->stopped_ = false;
    }
    return out;
  }

  lua_State* L_;
  size_t headroom_;
  int pause_ = 200;
  lua_Alloc alloc_ = nullptr;
  void* ud_ = nullptr;
  long long grown_ = 0;
  bool stopped_ = false;
};

}  // namespace

namespace {

// The pipeline's text, read once: a FIFO gives its text a single time, and a file being
// rewritten is seen as one version. A directory, a device or a socket is refused.
std::string read_pipeline(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(Code::NoFile, {path, std::strerror(errno)});
  if (S_ISDIR(st.st_mode)) fail(Msg::LoadDirectory, {path});
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) fail(Msg::LoadNotFile, {path});
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(Code::NoFile, {path, std::strerror(errno)});
  std::string text;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      fail(Code::NoFile, {path, std::strerror(e)});
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// The line of the main chunk's `return` that gave a wrong value, read from its bytecode
// only on that error path, so loading costs nothing more. The opcodes are learnt from tiny
// chunks compiled by this same VM, not assumed. Of several returns, the last one whose
// value is a literal of the returned kind, else the last whose kind cannot be told.
const char* const return_line_lua = R"lua(
local chunk, kind = ...
local ok, util = pcall(require, "jit.util")
if not ok or type(chunk) ~= "function" then return nil end
local function op(src, pc) return bit.band(util.funcbc(loadstring(src), pc), 255) end
local returns = {
  [op("return 1", 2)] = true,                       -- RET1
  [op("local a, b = 1, 2 return a, b", 5)] = true,  -- RET
  [op("return ...", 2)] = true,                     -- RETM
  [op("return f()", 2)] = true,                     -- CALLT: return M "a" { ... }
  [op("return f(...)", 3)] = true,                  -- CALLMT
}
local literal = {
  [op("return 'x'", 1)] = "string", [op("return 1", 1)] = "number", [op("return 1.5", 1)] = "number",
  [op("return {}", 1)] = "table", [op("return {1}", 1)] = "table", [op("return nil", 1)] = "nil",
  [op("return function() end", 1)] = "function",
}
local same, unknown, last
local prev
for pc = 1, math.huge do
  local ins = util.funcbc(chunk, pc)
  if not ins then break end
  local o = bit.band(ins, 255)
  if returns[o] then
    local line = util.funcinfo(chunk, pc).currentline
    local k = prev and literal[prev]
    if k == kind then same = line elseif not k then unknown = line end
    last = line
  end
  prev = o
end
return same or unknown or last
)lua";

// `display_name`:LINE of the chunk's `return` (the chunk at registry `ref`, its value of
// Lua type `kind`), or the name alone when that cannot be told. The bytecode knows the
// line where the returned expression ends: the `return` is the nearest line up to it
// that has the word (a line inside the statement at worst).
std::string return_place(lua_State* L, int ref, const char* kind, std::string_view text,
                         const std::string& display_name) {
  int top = lua_gettop(L);
  long line = 0;
  if (luaL_loadbuffer(L, return_line_lua, std::strlen(return_line_lua), "=[ochre return line]") == 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushstring(L, kind);
    if (lua_pcall(L, 2, 1, 0) == 0 && lua_isnumber(L, -1)) line = static_cast<long>(lua_tointeger(L, -1));
  }
  lua_settop(L, top);
  if (line <= 0) return display_name;
  std::vector<std::string_view> lines;
  for (size_t p = 0; p <= text.size();) {
    size_t nl = text.find('\n', p);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(p, nl - p));
    p = nl + 1;
  }
  auto has_return = [](std::string_view s) {
    for (size_t p = s.find("return"); p != std::string_view::npos; p = s.find("return", p + 1)) {
      auto word = [&](size_t i) { return i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_'); };
      if ((p == 0 || !word(p - 1)) && !word(p + 6)) return true;
    }
    return false;
  };
  for (long l = std::min<long>(line, static_cast<long>(lines.size())); l >= 1; --l)
    if (has_return(lines[l - 1])) {
      line = l;
      break;
    }
  return display_name + ":" + std::to_string(line);
}

}  // namespace

void Session::load_file(const std::string& path, const std::function<void(const std::string&)>& before_run) {
  std::error_code ec;
  std::string text = read_pipeline(path);
  source_ = std::filesystem::absolute(path, ec).lexically_normal().string();
  // Modules beside the pipeline can be required.
  {
    std::string dir = std::filesystem::path(source_).parent_path().string();
    // internal.pipeline_dir: a module required from there is one of the inputs
    lua_rawgeti(L(), LUA_REGISTRYINDEX, internal_ref);
    lua_pushlstring(L(), dir.data(), dir.size());
    lua_setfield(L(), -2, "pipeline_dir");
    lua_pop(L(), 1);
    lua_getglobal(L(), "package");
    lua_getfield(L(), -1, "path");
    std::string p = dir + "/?.lua;" + dir + "/?/init.lua;" + lua_tostring(L(), -1);
    lua_pop(L(), 1);
    lua_pushlstring(L(), p.data(), p.size());
    lua_setfield(L(), -2, "path");
    lua_pop(L(), 1);
  }
  if (before_run) before_run(source_);
  // Text only: a file of LuaJIT bytecode could crash the VM; pipelines are source. The
  // chunk is named "@path", as luaL_loadfile names it, so messages say path:line.
  std::string chunk = "@" + path;
  if (luaL_loadbufferx(L(), text.data(), text.size(), chunk.c_str(), "t") != 0) {
    std::string err = error_text(L());
    lua_pop(L(), 1);
    if (err.find("wrong mode") != std::string::npos)
      fail(Msg::LoadBytecode, {}, path);
    lua_user_error(Code::LuaSyntax, err);
  }
  run_chunk(path, text);
}

void Session::load_string(std::string_view code, const std::string& name) {
  source_ = name;
  std::string chunk = "@" + name;
  if (luaL_loadbufferx(L(), code.data(), code.size(), chunk.c_str(), "t") != 0) {
    std::string err = error_text(L());
    lua_pop(L(), 1);
    lua_user_error(Code::LuaSyntax, err);
  }
  run_chunk(name, code);
}

void Session::run_chunk(const std::string& display_name, std::string_view text) {
  pipeline_name_ = display_name;
  lua_State* L = this->L();
  int base = lua_gettop(L);  // the chunk sits at base
  std::string err;
  // Kept for a wrong return value's place (return_place).
  lua_pushvalue(L, base);
  int chunk_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  struct Unref {
    lua_State* L;
    int ref;
    ~Unref() { luaL_unref(L, LUA_REGISTRYINDEX, ref); }
  } unref{L, chunk_ref};
  lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
  lua_pushlstring(L, display_name.data(), display_name.size());
  lua_setfield(L, -2, "pipeline");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "declared");
  lua_pop(L, 1);
  next_load();
  enter_phase("loading the pipeline");
  PhaseTimer timer;
  set_loading(true);
  if (options.keep_locals) keep_locals(base);
  bool ok;
  {
    LoadCollector collector(L, lua_.owned(), options.load_headroom);
    ok = pcall(L, 0, LUA_MULTRET, &err, false);
  }
  if (options.keep_locals) keep_locals(0);
  set_loading(false);
  // LuaJIT's out-of-memory error carries no position: the phase and the file say where.
  if (!ok && err == lua_memory_error) fail(Msg::OutOfMemoryIn, {"while loading the pipeline"}, display_name);
  if (!ok) lua_user_error(Code::LuaRuntime, err);
  timer.mark("load file");
  int nres = lua_gettop(L) - (base - 1);
  if (nres >= 1 && !lua_isnil(L, base)) {
    try {
      set_roots(base);
    } catch (Error& e) {
      const char* kind = is_instance(L, base) ? "instance" : luaL_typename(L, base);
      std::string where = return_place(L, chunk_ref, kind, text, display_name);
      lua_settop(L, base - 1);
      throw Error(e.code(), e.what(), where);
    }
  }
  lua_settop(L, base - 1);
}

void Session::next_load() {
  lua_State* L = this->L();
  lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
  lua_getfield(L, -1, "load");
  lua_Number n = lua_tonumber(L, -1);
  lua_pop(L, 1);
  lua_pushnumber(L, n + 1);
  lua_setfield(L, -2, "load");
  lua_pop(L, 1);
}

void Session::set_loading(bool on) {
  lua_rawgeti(L(), LUA_REGISTRYINDEX, internal_ref);
  lua_pushboolean(L(), on);
  lua_setfield(L(), -2, "loading");
  lua_pop(L(), 1);
}

std::vector<std::string> Session::inputs() {
  std::vector<std::string> out;
  lua_State* L = this->L();
  int top = lua_gettop(L);
  push_internal("inputs");
  for (int i = 1, n = lua_istable(L, -1) ? static_cast<int>(lua_objlen(L, -1)) : 0; i <= n; ++i) {
    lua_rawgeti(L, top + 1, i);
    std::error_code ec;
    std::string path = std::filesystem::absolute(lua_tostring(L, -1), ec).lexically_normal().string();
    if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(std::move(path));
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return out;
}

std::pair<std::string, std::string> Session::settings() {
  lua_State* L = this->L();
  int top = lua_gettop(L);
  push_internal("settings");
  std::string state, ws;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "state");
    if (lua_isstring(L, -1)) state = lua_tostring(L, -1);
    lua_getfield(L, -2, "workspace");
    if (lua_isstring(L, -1)) ws = lua_tostring(L, -1);
  }
  lua_settop(L, top);
  return {state, ws};
}

void Session::set_roots(int idx) {
  lua_State* L = this->L();
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  std::vector<int> refs;
  auto bad = [&](Msg msg, std::initializer_list<std::string_view> args) {
    for (int r : refs) luaL_unref(L, LUA_REGISTRYINDEX, r);
    fail(msg, args);
  };
  if (is_instance(L, idx)) {
    lua_pushvalue(L, idx);
    refs.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
  } else if (lua_istable(L, idx) && !lua_getmetatable(L, idx)) {
    int n = (int)lua_objlen(L, idx);
    if (n == 0) {
      lua_pushnil(L);
      bool empty = lua_next(L, idx) == 0;
      if (!empty) lua_pop(L, 2);
      bad(empty ? Msg::ReturnedEmptyTable : Msg::ReturnedNamedTable, {});
    }
    for (int i = 1; i <= n; ++i) {
      lua_rawgeti(L, idx, i);
      if (!is_instance(L, -1)) {
        lua_pop(L, 1);
        bad(Msg::ReturnedBadItem, {std::to_string(i)});
      }
      refs.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
    }
  } else {
    if (lua_istable(L, idx)) lua_pop(L, 1);  // the metatable
    bad(Msg::ReturnedValue, {luaL_typename(L, idx)});
  }
  for (int r : root_refs_) luaL_unref(L, LUA_REGISTRYINDEX, r);
  root_refs_ = std::move(refs);
  has_roots_ = true;
}

void Session::publish_uuids(const Graph& graph) {
  lua_State* L = this->L();
  push_internal("uuids");
  for (const Node& n : graph.nodes()) {
    lua_pushlstring(L, n.key.data(), n.key.size());
    lua_pushlstring(L, n.uuid.data(), n.uuid.size());
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

bool Session::type_defined(const std::string& type) {
  push_type(type);
  bool yes = !lua_isnil(L(), -1);
  lua_pop(L(), 1);
  return yes;
}

// The sensitive fields of every type defined in the Lua state (dsl.lua keeps each type's
// list as T.sensitive).
Sensitive Session::sensitive() {
  Sensitive out;
  lua_State* L = this->L();
  int top = lua_gettop(L);
  push_internal("types");
  if (!lua_istable(L, -1)) {
    lua_settop(L, top);
    return out;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
      lua_getfield(L, -1, "sensitive");
      if (lua_istable(L, -1)) {
        std::vector<std::string> names;
        for (int i = 1, n = static_cast<int>(lua_objlen(L, -1)); i <= n; ++i) {
          lua_rawgeti(L, -1, i);
          if (lua_type(L, -1) == LUA_TSTRING) names.push_back(lua_tostring(L, -1));
          lua_pop(L, 1);
        }
        if (!names.empty()) out.emplace(lua_tostring(L, -3), std::move(names));
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return out;
}

// The webhooks of ochre.notify calls, checked where they were made.
std::vector<Endpoint> Session::webhooks() {
  std::vector<Endpoint> out;
  lua_State* L = this->L();
  int top = lua_gettop(L);
  push_internal("notify");
  for (int i = 1, n = lua_istable(L, -1) ? static_cast<int>(lua_objlen(L, -1)) : 0; i <= n; ++i) {
    lua_rawgeti(L, top + 1, i);
    Endpoint e;
    lua_getfield(L, -1, "url");
    e.url = lua_tostring(L, -1);
    lua_getfield(L, -2, "secret");
    e.secret = lua_tostring(L, -1);
    lua_getfield(L, -3, "events");
    for (int k = 1, m = static_cast<int>(lua_objlen(L, -1)); k <= m; ++k) {
      lua_rawgeti(L, -1, k);
      e.events.push_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_settop(L, top + 1);
    out.push_back(std::move(e));
  }
  lua_settop(L, top);
  return out;
}

// ochre.moved and ochre.removed, as dsl.lua checked and recorded them.
std::vector<Moved> Session::moved() {
  std::vector<Moved> out;
  lua_State* L = this->L();
  int top = lua_gettop(L);
  push_internal("moved");
  for (int i = 1, n = lua_istable(L, -1) ? static_cast<int>(lua_objlen(L, -1)) : 0; i <= n; ++i) {
    lua_rawgeti(L, top + 1, i);
    lua_getfield(L, -1, "from");
    lua_getfield(L, -2, "to");
    lua_getfield(L, -3, "site");
    out.push_back({lua_tostring(L, -3), lua_tostring(L, -2), lua_tostring(L, -1)});
    lua_settop(L, top + 1);
  }
  lua_settop(L, top);
  return out;
}

std::vector<Removed> Session::removed() {
  std::vector<Removed> out;
  lua_State* L = this->L();
  int top = lua_gettop(L);
  push_internal("removed");
  for (int i = 1, n = lua_istable(L, -1) ? static_cast<int>(lua_objlen(L, -1)) : 0; i <= n; ++i) {
    lua_rawgeti(L, top + 1, i);
    lua_getfield(L, -1, "key");
    lua_getfield(L, -2, "site");
    lua_getfield(L, -3, "destroy");
    out.push_back({lua_tostring(L, -3), lua_tostring(L, -2), static_cast<bool>(lua_toboolean(L, -1))});
    lua_settop(L, top + 1);
  }
  lua_settop(L, top);
  return out;
}

}  // namespace ochre::lua
