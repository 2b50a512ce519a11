// Loading a pipeline and turning its instances into the engine's graph: stored outputs
// are given to the instances, read hooks run (sub-components first), fields are
// converted, duplicates and cycles are caught with the user's lines.
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

namespace ochre::lua {

namespace {

// OCHRE_TIMING=1 prints where a plan's time goes, phase by phase, on stderr.
class PhaseTimer {
 public:
  PhaseTimer() : on_(std::getenv("OCHRE_TIMING") != nullptr), last_(std::chrono::steady_clock::now()) {}
  void mark(const char* phase) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    long pages = 0;  // the resident set so far, from /proc/self/statm
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%*s %ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    std::fprintf(stderr, "timing: %-12s %8.1f ms %7.1f MB\n", phase,
                 std::chrono::duration<double, std::milli>(now - last_).count(),
                 static_cast<double>(pages) * 4096 / (1024 * 1024));
    last_ = now;
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

struct Session::ReadAhead {
  std::string path, workspace;
  std::unique_ptr<StateStore> store;
  std::optional<std::string> token;  // the store's change token before the rows were read
  std::vector<StoredInstance> stored;
  std::vector<std::pair<std::string, std::string>> roots;
  KeyIndex index;
  bool undelivered = false;
  bool complete = false;  // everything read (an error leaves the reading to plan())
  std::thread thread;

  ReadAhead(std::string p, std::string ws) : path(std::move(p)), workspace(std::move(ws)) {
    thread = std::thread([this] {
      try {
        store = open_state(path, workspace, OpenMode::ReadOnly);
        token = store->change_token();
        if (!token) return;
        stored = store->load();
        roots = store->roots();
        undelivered = !store->outbox_due(LLONG_MAX, 1).empty();
        index = index_stored(stored);
        complete = true;
      } catch (const std::exception&) {
      }
    });
  }
  ~ReadAhead() {
    if (thread.joinable()) thread.join();
  }
  // Waits for the read; true if it read everything and nothing was committed since.
  bool usable() {
    if (thread.joinable()) thread.join();
    return complete && store->change_token() == token;
  }
};

void Session::start_read_ahead() {
  ahead_.reset();
  if (state_path.empty() || state_path == ":memory:" || is_postgres_location(state_path)) return;
  ahead_ = std::make_unique<ReadAhead>(state_path, workspace);
}

void Session::close_state() {
  ahead_.reset();
  if (state_path != ":memory:") state_.reset();  // a state in memory lives with the engine
  lock_.reset();
}

std::unique_ptr<Session::ReadAhead> Session::take_read_ahead() {
  if (!ahead_ || ahead_->path != state_path || ahead_->workspace != workspace) return nullptr;
  return std::move(ahead_);
}

Session::Session(Options opts, lua_State* host)
    : options(std::move(opts)), state_path(options.state_path),
      workspace(options.workspace.empty() ? default_workspace : options.workspace), borrowed(host != nullptr),
      lua_(host ? LuaState(host) : LuaState(options.lua_uses_malloc)) {
  if (int rc = uv_loop_init(&loop_)) fail(Code::Internal, {std::string("uv_loop_init: ") + uv_strerror(rc)});
  install_module(*this);
}

Session::~Session() {
  ahead_.reset();
  // Nothing may outlive the session: kill what hooks wait on, close every handle.
  abandon_all();
  for (Wait* w : std::vector<Wait*>(waits.begin(), waits.end())) {
    w->cancel();
    w->release();
  }
  while (uv_run(&loop_, UV_RUN_NOWAIT)) {
  }
  uv_walk(&loop_, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void Session::lock() {
  if (lock_) return;
  if (state_path.empty()) state_path = ".ochre/state.db";
  if (state_path == ":memory:") {
    planned_locked_ = true;  // nobody else can see an in-memory state
    return;
  }
  lock_ = lock_state(state_path, workspace, options.lock_timeout);
}

void Session::push_internal(const char* name) { push_internal(L(), name); }

void Session::push_internal(lua_State* L, const char* name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

void Session::push_type(const std::string& type) {
  push_internal("types");
  lua_pushlstring(L(), type.data(), type.size());
  lua_rawget(L(), -2);
  lua_remove(L(), -2);
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
  lua_pop(L, 5);
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
  for (const auto& f : t.field_names) {
    lua_getfield(L, -2, f.c_str());
    if (lua_rawequal(L, -1, -2)) t.required.push_back(f);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
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

}  // namespace

void Session::load_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(Code::NoFile, {path, "it is a directory"});
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(Code::NoFile, {path, std::strerror(errno)});
  std::fclose(f);
  source = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (options.state_path.empty())
    state_path = (std::filesystem::path(source).parent_path() / ".ochre" / "state.db").string();
  // Modules beside the pipeline can be required.
  {
    std::string dir = std::filesystem::path(source).parent_path().string();
    lua_getglobal(L(), "package");
    lua_getfield(L(), -1, "path");
    std::string p = dir + "/?.lua;" + dir + "/?/init.lua;" + lua_tostring(L(), -1);
    lua_pop(L(), 1);
    lua_pushlstring(L(), p.data(), p.size());
    lua_setfield(L(), -2, "path");
    lua_pop(L(), 1);
  }
  if (options.read_state_ahead) start_read_ahead();
  // Text only: a file of LuaJIT bytecode could crash the VM; pipelines are source.
  if (luaL_loadfilex(L(), path.c_str(), "t") != 0) {
    std::string err = error_text(L());
    lua_pop(L(), 1);
    if (err.find("wrong mode") != std::string::npos)
      throw Error(Code::LuaSyntax, message(Code::LuaSyntax, {"a precompiled (bytecode) chunk; ochre loads Lua source only"}), path);
    lua_user_error(Code::LuaSyntax, err);
  }
  run_chunk(path);
}

void Session::load_string(std::string_view code, const std::string& name) {
  source = name;
  std::string chunk = "@" + name;
  if (luaL_loadbufferx(L(), code.data(), code.size(), chunk.c_str(), "t") != 0) {
    std::string err = error_text(L());
    lua_pop(L(), 1);
    lua_user_error(Code::LuaSyntax, err);
  }
  run_chunk(name);
}

void Session::run_chunk(const std::string& display_name) {
  pipeline_name = display_name;
  lua_State* L = this->L();
  int base = lua_gettop(L);  // the chunk sits at base
  std::string err;
  lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
  lua_pushlstring(L, display_name.data(), display_name.size());
  lua_setfield(L, -2, "pipeline");
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "declared");
  lua_pop(L, 1);
  PhaseTimer timer;
  // A pipeline builds a graph that lives on: the collector runs less often while it
  // loads (a cycle when memory has grown 4x, not 2x), then as usual.
  int pause = lua_gc(L, LUA_GCSETPAUSE, 400);
  bool ok = pcall(L, 0, LUA_MULTRET, &err, false);
  lua_gc(L, LUA_GCSETPAUSE, pause);
  if (!ok) lua_user_error(Code::LuaRuntime, err);
  timer.mark("load file");
  apply_settings();
  int nres = lua_gettop(L) - (base - 1);
  if (nres >= 1 && !lua_isnil(L, base)) {
    try {
      set_roots(base);
    } catch (Error& e) {
      lua_settop(L, base - 1);
      throw Error(e.code(), e.what(), display_name);
    }
  }
  lua_settop(L, base - 1);
}

// ochre.settings { state = ..., workspace = ... }, where no flag or variable said otherwise.
void Session::apply_settings() {
  lua_State* L = this->L();
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, internal_ref);
  lua_getfield(L, -1, "settings");
  std::string state, ws;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "state");
    if (lua_isstring(L, -1)) state = lua_tostring(L, -1);
    lua_getfield(L, -2, "workspace");
    if (lua_isstring(L, -1)) ws = lua_tostring(L, -1);
  }
  lua_settop(L, top);
  if (!state.empty() && options.state_path.empty()) {
    // A file named relative to the pipeline, like the default state.
    if (!is_postgres_location(state) && state != ":memory:" && !std::filesystem::path(state).is_absolute() &&
        std::filesystem::path(source).is_absolute())
      state = (std::filesystem::path(source).parent_path() / state).lexically_normal().string();
    set_state_path(state);
  }
  if (!ws.empty() && options.workspace.empty() && workspace != ws) {
    workspace = ws;
    state_.reset();
    lock_.reset();
  }
}

std::string Session::files_root() const {
  std::string suffix = workspace == default_workspace ? "" : "." + workspace;
  if (!is_postgres_location(state_path))
    return (std::filesystem::path(state_path).parent_path() / ("files" + suffix)).string();
  // The files of a shared state stay beside the pipeline, on the machine that runs it.
  std::filesystem::path dir = std::filesystem::path(source).is_absolute()
                                  ? std::filesystem::path(source).parent_path()
                                  : std::filesystem::current_path();
  return (dir / ".ochre" / ("files" + suffix)).string();
}

void Session::set_roots(int idx) {
  lua_State* L = this->L();
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  std::vector<int> refs;
  auto bad = [&](const std::string& what) {
    for (int r : refs) luaL_unref(L, LUA_REGISTRYINDEX, r);
    fail(Code::BadReturn, {what});
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
      bad(empty ? "an empty table" : "a table with named entries; return a list: { a, b }");
    }
    for (int i = 1; i <= n; ++i) {
      lua_rawgeti(L, idx, i);
      if (!is_instance(L, -1)) {
        lua_pop(L, 1);
        bad("a list whose item " + std::to_string(i) + " is not an instance");
      }
      refs.push_back(luaL_ref(L, LUA_REGISTRYINDEX));
    }
  } else {
    if (lua_istable(L, idx)) lua_pop(L, 1);  // the metatable
    bad(std::string("a ") + luaL_typename(L, idx) + " value");
  }
  for (int r : root_refs) luaL_unref(L, LUA_REGISTRYINDEX, r);
  root_refs = std::move(refs);
  has_roots = true;
}

StateStore& Session::state(bool write) {
  if (state_path.empty()) state_path = ".ochre/state.db";
  if (state_path == ":memory:") {  // one store for the engine's whole life
    if (!state_) state_ = open_state(state_path, workspace, OpenMode::ReadWrite);
    state_writable_ = true;
    return *state_;
  }
  // A read-only view is opened afresh each time: the file may have appeared or changed.
  if (!state_ || (write && !state_writable_) || (!write && !state_writable_)) {
    state_.reset();
    state_ = open_state(state_path, workspace, write ? OpenMode::ReadWrite : OpenMode::ReadOnly);
    state_writable_ = write;
  }
  return *state_;
}

namespace {

// Instance (its table's address) -> node, read a few times per instance while walking:
// open addressing over one array rather than a node allocated per entry.
class NodeMap {
 public:
  static constexpr int Unseen = -2;
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(n * 2);
  }
  int find(const void* key) const {
    if (slots_.empty()) return Unseen;
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return slots_[i].value;
      if (!slots_[i].key) return Unseen;
    }
  }
  void set(const void* key, int value) {
    if ((used_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(16, slots_.size() * 2));
    size_t mask = slots_.size() - 1;
    size_t i = hash(key) & mask;
    while (slots_[i].key && slots_[i].key != key) i = (i + 1) & mask;
    if (!slots_[i].key) ++used_;
    slots_[i] = {key, value};
  }

 private:
  struct Slot {
    const void* key = nullptr;
    int value = 0;
  };
  static size_t hash(const void* p) {  // addresses are aligned: mix the high bits down
    auto x = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return static_cast<size_t>(x ^ (x >> 33));
  }
  void rehash(size_t n) {
    size_t size = 16;
    while (size < n) size *= 2;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(size, Slot{});
    used_ = 0;
    for (const Slot& s : old)
      if (s.key) set(s.key, s.value);
  }
  std::vector<Slot> slots_;
  size_t used_ = 0;
};

// Walks the instances reachable from the roots, depth first, sub-components first.
// Iterative, with the instances being visited kept in a Lua table (`work_`), so neither
// the C++ nor the Lua stack grows with the depth of the graph (a 100,000-long chain).
class Collector {
 public:
  // With `read_state`, `stored` and `stored_index` are filled only when it is called,
  // which the walk does before the first read hook and at its end: until then instances
  // are walked without their stored outputs, given to them all at once then.
  Collector(Session& s, const std::vector<StoredInstance>& stored, const KeyIndex& stored_index,
            std::function<void()> read_state)
      : s_(s), L(s.L()), stored_(stored), stored_index_(stored_index), read_state_(std::move(read_state)),
        have_stored_(!read_state_) {
    // The graph is about what the pipeline declared, or what was applied last.
    s_.push_internal("declared");
    size_t expected = std::max(stored.size(), static_cast<size_t>(lua_tointeger(L, -1)));
    lua_pop(L, 1);
    node_of_.reserve(expected);
    graph_.reserve(expected);
    lua_newtable(L);
    work_ = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  ~Collector() { luaL_unref(L, LUA_REGISTRYINDEX, work_); }

  template <class Timer>
  Graph run(Timer& timer) {
    keys_ = lua_gettop(L) + 1;
    for (const char* k : {"type", "values", "site", "identifier"}) lua_pushstring(L, k);
    for (int ref : s_.root_refs) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
      int n = walk(lua_gettop(L));
      lua_pop(L, 1);
      graph_.add_root(n);
    }
    timer.mark("collect");
    need_stored();  // with the interned keys still on the stack
    timer.mark("state wait");
    lua_settop(L, keys_ - 1);
    size_t cursor = 0;  // nodes come in about the order the state's rows were written
    graph_.finalize([&](const std::string& key) { return find_stored(key, cursor); });
    timer.mark("hash");
    return std::move(graph_);
  }

 private:
  // One instance on the way: 0 = to enter, 1 = entered (children first), 2 = read has
  // run, its fields are converted once every sub-component is done.
  struct Frame {
    const void* ptr = nullptr;
    int slot = 0;  // index in work_
    int stage = 0;
    std::string key, site;
  };

  void push_frame(int idx) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, work_);
    lua_pushvalue(L, idx < 0 ? idx - 1 : idx);
    int slot;  // slots are reused, so the work table stays as small as the walk is deep
    if (free_slots_.empty()) {
      slot = ++slots_;
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    Frame f;
    f.ptr = lua_topointer(L, idx);
    f.slot = slot;
    stack_.push_back(std::move(f));
  }

  void release_slot(int slot) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, work_);
    lua_pushnil(L);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    free_slots_.push_back(slot);
  }

  // Pushes the instance of a frame. [-0, +1, -]
  void push_instance(const Frame& f) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, work_);
    lua_rawgeti(L, -1, f.slot);
    lua_remove(L, -2);
  }

  [[noreturn]] void cycle_from(const void* ptr) {
    size_t i = 0;
    while (i < stack_.size() && !(stack_[i].ptr == ptr && stack_[i].stage > 0)) ++i;
    std::string path;
    for (size_t j = i; j < stack_.size(); ++j)
      if (stack_[j].stage > 0) path += stack_[j].key + " -> ";
    path += stack_[i].key;
    fail(Code::Cycle, {path}, stack_[i].site);
  }

  // Walks from the instance at `idx`; returns its node index.
  int walk(int idx) {
    int base = lua_gettop(L);
    const void* root = lua_topointer(L, idx);
    if (int n = node_of(root); n >= 0) return n;
    push_frame(idx);
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.stage == 0 && node_of(f.ptr) >= 0) {
        release_slot(f.slot);
        stack_.pop_back();
        continue;
      }
      if (f.stage == 0) {
        if (node_of(f.ptr) == Visiting) cycle_from(f.ptr);
        enter(f);
      } else {
        push_instance(f);
        push_record();
        finish(stack_.size() - 1, lua_gettop(L) - 3);
      }
      lua_settop(L, base);
    }
    return node_of(root);
  }

  static constexpr int Unseen = NodeMap::Unseen, Visiting = -1;
  // The node of an instance, or Unseen, or Visiting (entered, not finished).
  int node_of(const void* ptr) const { return node_of_.find(ptr); }

  // The keys of records and values, interned once below the walk's part of the stack:
  // lua_getfield would intern its key again at every call.
  enum Key { Type, Values, Site, Identifier };
  int keys_ = 0;  // the stack index of the first
  // Pushes t[key], t a plain table at `t` (an absolute index). [-0, +1, -]
  void get(int t, Key key) {
    lua_pushvalue(L, keys_ + key);
    lua_rawget(L, t);
  }

  // Reads the DSL's record of the instance on the top: the record, T, values. [-0, +3, e]
  void push_record() {
    lua_rawgeti(L, LUA_REGISTRYINDEX, s_.record_key_ref);
    lua_rawget(L, -2);
    int record = lua_gettop(L);
    get(record, Type);
    get(record, Values);
  }

  // Pushes the value of the type's i-th field (0-based, as in TypeInfo::field_names),
  // through the type's list of names: no name is interned again. [-0, +1, e]
  void push_field(const TypeInfo& type, int values, size_t i) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, type.names_ref);
    lua_rawgeti(L, -1, static_cast<int>(i + 1));
    lua_rawget(L, values < 0 ? values - 2 : values);
    lua_remove(L, -2);
  }

  void enter(Frame& f) {
    push_instance(f);
    int inst = lua_gettop(L);
    push_record();
    const int record = inst + 1, t_idx = inst + 2, values = inst + 3;
    const TypeInfo& type = s_.type_info(t_idx);
    if (type.has_read) need_stored();  // read hooks see the stored outputs
    get(record, Site);
    f.site = lua_tostring(L, -1);
    lua_pop(L, 1);
    get(values, Identifier);
    f.key = make_key(type.name, lua_tostring(L, -1));
    lua_pop(L, 1);
    for (const auto& name : type.required) {
      lua_getfield(L, values, name.c_str());
      bool missing = lua_isnil(L, -1);
      lua_pop(L, 1);
      if (missing) throw Error(Code::MissingField, message(Code::MissingField, {f.key, name}), f.site);
    }
    node_of_.set(f.ptr, Visiting);
    f.stage = 1;

    // What the last apply stored is visible to read and the hooks.
    if (have_stored_) give_outputs(find_stored(f.key, enter_cursor_), values);

    size_t first_child = stack_.size();
    if (!type.has_read) {
      // No read hook to run after the sub-components': encoding the fields walks them
      // once, and puts the sub-components not done yet on the stack, in its order (the
      // encoding is made again once they are done).
      finish(first_child - 1, inst);
      if (stack_.size() > first_child) std::reverse(stack_.begin() + first_child, stack_.end());
      return;
    }
    // Sub-components first (so their read hooks run before ours), in field order.
    for (size_t i = 0; i < type.field_names.size(); ++i) {
      push_field(type, values, i);
      scan(lua_gettop(L));
      lua_pop(L, 1);
    }
    // None to walk first (a leaf): on to its read hook and conversion, still on the stack.
    if (stack_.size() == first_child) return finish(first_child - 1, inst);
    std::reverse(stack_.begin() + first_child, stack_.end());
  }

  // Pushes a frame for every instance inside the value at `idx` that is not done yet.
  void scan(int idx) {
    if (lua_type(L, idx) != LUA_TTABLE) return;
    const void* ptr = lua_topointer(L, idx);
    if (is_instance(L, idx)) {
      int n = node_of(ptr);
      if (n >= 0) return;
      if (n == Visiting) cycle_from(ptr);
      push_frame(idx);
      return;
    }
    if (!scanning_.insert(ptr).second) return;  // a table in itself: conversion reports it
    if (!lua_checkstack(L, 4)) return;          // data nested this deep is refused later
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      scan(lua_gettop(L));
      lua_pop(L, 1);
    }
    scanning_.erase(ptr);
  }

  // Runs the read hook of the frame at `at` (once) and converts its fields, its instance
  // at `inst` with its record, type and values above it (push_record).
  void finish(size_t at, int inst) {
    // A copy: converting may push frames, which moves the stack's elements.
    const std::string key = stack_[at].key, site = stack_[at].site;
    Frame& f = stack_[at];
    const int t_idx = inst + 2, values = inst + 3;
    const TypeInfo& type = s_.type_info(t_idx);

    if (f.stage == 1) {
      f.stage = 2;
      if (type.has_read) {
        const std::string& fkey = key;
        lua_getfield(L, t_idx, "hooks");
        lua_getfield(L, -1, "read");
        lua_remove(L, -2);
        lua_pushvalue(L, inst);
        JobOutcome out = s_.run_hook_blocking(fkey, fkey + ": read", 1, [](lua_State*, int) {
          return JobOutcome{};
        });
        if (out.kind != JobOutcome::Done) fail(Code::HookFailed, {out.error});
      }
    }

    // Encode the fields (by name, identifier included) straight from Lua; a
    // sub-component that read introduced is walked first, then we come back.
    std::string_view identifier = std::string_view(key).substr(type.name.size() + 1);
    std::string encoded = "m";
    refs_.clear();
    bool id_added = false;
    size_t before = stack_.size();
    for (size_t i = 0; i <= type.field_names.size(); ++i) {
      if (!id_added && (i == type.field_names.size() || type.field_names[i] > "identifier")) {
        encode_string("identifier", encoded);
        encode_string(identifier, encoded);
        id_added = true;
      }
      if (i == type.field_names.size()) break;
      const std::string& name = type.field_names[i];
      encode_string(name, encoded);
      push_field(type, values, i);
      try {
        encode_value(L, -1, [&](int child) { return ref_key(child); }, name, encoded);
      } catch (const Error& e) {
        if (e.code() != Code::BadValue) throw;
        throw Error(Code::BadValue, key + ": " + e.what(), site);
      }
      lua_pop(L, 1);
    }
    if (stack_.size() != before) return;  // new sub-components: they go first
    encoded += 'e';
    Node node;
    node.fields = PackedFields::packed(std::move(encoded));
    node.deps = distinct_refs();
    node.deps_known = true;

    Frame done = std::move(stack_[at]);
    stack_.erase(stack_.begin() + static_cast<long>(at));
    release_slot(done.slot);

    node.type = type.name;
    node.identifier = std::string(identifier);
    node.key = std::move(done.key);
    node.breaks = type.breaks;
    node.sensitive = type.sensitive;
    node.site = std::move(done.site);
    bool added = false;
    int n = graph_.add_or_find(node, added);
    if (!added) {
      const Node& other = graph_.node(n);
      if (other.fields != node.fields) fail(Code::Duplicate, {node.key, other.site, node.site});
    }
    lua_pushvalue(L, inst);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (added) graph_.set_handle(n, ref);
    else s_.alias_refs[node.key].push_back(ref);  // an alias: its outputs are kept current too
    node_of_.set(done.ptr, n);
  }

  // The key of a sub-component met while converting; one not done yet gets a frame (the
  // conversion is redone once it is).
  std::string_view ref_key(int idx) {
    const void* ptr = lua_topointer(L, idx);
    int n = node_of(ptr);
    if (n >= 0) {
      refs_.push_back(n);
      return graph_.node(n).key;
    }
    if (n == Visiting) cycle_from(ptr);
    push_frame(idx);
    return {};
  }

  // The nodes met as refs while encoding, each once, in the order met: a node's deps.
  std::vector<int> distinct_refs() {
    std::vector<int> deps;
    if (refs_.size() <= 8) {  // the usual few: compared with each other, no table to touch
      for (int r : refs_)
        if (std::find(deps.begin(), deps.end(), r) == deps.end()) deps.push_back(r);
      return deps;
    }
    if (seen_.size() < graph_.size()) seen_.resize(graph_.size(), 0);
    ++stamp_;
    for (int r : refs_)
      if (seen_[r] != stamp_) {
        seen_[r] = stamp_;
        deps.push_back(r);
      }
    return deps;
  }

  // Sets values.outputs (`values` an index below the top) from a stored row.
  void give_outputs(const StoredInstance* st, int values) {
    if (!st || st->status != Status::Ok || st->outputs.entries.empty()) return;
    push_value(L, st->outputs, [&](const std::string& k) { lua_pushstring(L, k.c_str()); });
    lua_setfield(L, values < 0 ? values - 1 : values, "outputs");
  }

  // Reads the state if it is not read yet, and gives their stored outputs to the
  // instances walked so far: the nodes, their aliases, and those entered, not finished.
  void need_stored() {
    if (have_stored_) return;
    read_state_();
    have_stored_ = true;
    auto give = [&](int ref, const StoredInstance* st) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
      push_record();
      give_outputs(st, -1);
      lua_pop(L, 4);
    };
    for (const StoredInstance& st : stored_) {
      if (st.status != Status::Ok || st.outputs.entries.empty()) continue;
      int n = graph_.find(st.key);
      if (n < 0) continue;
      give(graph_.node(n).handle, &st);
      if (auto it = s_.alias_refs.find(st.key); it != s_.alias_refs.end())
        for (int ref : it->second) give(ref, &st);
    }
    size_t cursor = 0;
    for (const Frame& f : stack_) {
      if (f.stage == 0) continue;
      push_instance(f);
      push_record();
      give_outputs(find_stored(f.key, cursor), -1);
      lua_pop(L, 4);
    }
  }

  // The row of `key`; `cursor` follows the rows, which come in about the walk's order.
  const StoredInstance* find_stored(std::string_view key, size_t& cursor) const {
    int i = stored_index_.find_next(key, cursor, stored_.size(),
                                    [this](int j) -> const std::string& { return stored_[j].key; });
    return i < 0 ? nullptr : &stored_[i];
  }

  Session& s_;
  lua_State* L;
  const std::vector<StoredInstance>& stored_;
  const KeyIndex& stored_index_;
  std::function<void()> read_state_;
  bool have_stored_ = false;
  size_t enter_cursor_ = 0;
  int work_ = LUA_NOREF;
  int slots_ = 0;
  std::vector<int> free_slots_;
  Graph graph_;
  std::vector<Frame> stack_;
  NodeMap node_of_;  // a node, or Visiting
  std::vector<int> refs_;          // nodes met as refs by the conversion under way
  std::vector<unsigned> seen_;     // by node: the stamp of the last distinct_refs that met it
  unsigned stamp_ = 0;
  std::unordered_set<const void*> scanning_;
};

}  // namespace

void Session::build_graph(const std::vector<StoredInstance>& stored, const KeyIndex& stored_index,
                          std::function<void()> read_state) {
  PhaseTimer timer;
  if (graph)
    for (const Node& n : graph->nodes()) luaL_unref(L(), LUA_REGISTRYINDEX, n.handle);
  for (auto& [key, refs] : alias_refs)
    for (int r : refs) luaL_unref(L(), LUA_REGISTRYINDEX, r);
  alias_refs.clear();
  graph.reset();
  int top = lua_gettop(L());
  try {
    Collector collector(*this, stored, stored_index, std::move(read_state));
    graph = collector.run(timer);
  } catch (...) {
    lua_settop(L(), top);
    throw;
  }
}


void Session::plan(bool destroy, const std::vector<std::string>& keys) {
  if (!has_roots) fail(Code::BadReturn, {"nothing"}, pipeline_name);
  PhaseTimer timer;
  std::vector<StoredInstance> stored;
  std::vector<std::pair<std::string, std::string>> roots;
  KeyIndex stored_index;
  // A read of the state under way on its thread is waited for only once the walk of
  // the instances needs it (see Collector).
  std::unique_ptr<ReadAhead> ahead = take_read_ahead();
  auto read_state = [&] {
    if (ahead && ahead->usable()) {
      stored = std::move(ahead->stored);
      roots = std::move(ahead->roots);
      undelivered = ahead->undelivered;
      stored_index = std::move(ahead->index);
    } else {
      StateStore& st = state(false);
      stored = st.load();
      roots = st.roots();
      undelivered = !st.outbox_due(LLONG_MAX, 1).empty();
      stored_index = index_stored(stored);
    }
    ahead.reset();
  };
  if (ahead) {
    build_graph(stored, stored_index, read_state);
  } else {
    read_state();
    timer.mark("state load");
    build_graph(stored, stored_index, nullptr);
  }
  timer.mark("graph+hash");
  PlanOptions po;
  po.destroy = destroy;
  po.destroy_keys = keys;
  for (auto& [src, key] : roots)
    if (src != source) po.protecting_roots.push_back(std::move(key));
  po.type_defined = [this](const std::string& type) {
    push_type(type);
    bool yes = !lua_isnil(L(), -1);
    lua_pop(L(), 1);
    return yes;
  };
  po.targets = options.targets;
  po.replace = options.replace;
  destroying = destroy;
  destroy_all = destroy && keys.empty();
  destroy_keys = keys;
  current_plan = make_plan(*graph, std::move(stored), po, std::move(stored_index));
  timer.mark("plan");
  planned_locked_ = lock_ != nullptr;
  uuids_published = false;  // published when the REPL prints an instance
}

void Session::publish_uuids() {
  lua_State* L = this->L();
  push_internal("uuids");
  for (const Node& n : graph->nodes()) {
    lua_pushlstring(L, n.key.data(), n.key.size());
    lua_pushlstring(L, n.uuid.data(), n.uuid.size());
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

std::string Session::eval(const std::string& code, bool& incomplete) {
  lua_State* L = this->L();
  if (graph && !uuids_published) {
    publish_uuids();
    uuids_published = true;
  }
  incomplete = false;
  int top = lua_gettop(L);
  std::string as_return = "return " + code;
  if (luaL_loadbuffer(L, as_return.data(), as_return.size(), "=repl") != 0) {
    // Either form stopping at the end of the input means more lines are to come.
    std::string as_expr = error_text(L);
    lua_pop(L, 1);
    auto at_eof = [](std::string err) {  // LuaJIT says: ... near '<eof>'
      static const std::string eof = "<eof>";
      if (!err.empty() && err.back() == '\'') err.pop_back();
      return err.size() > eof.size() && err.compare(err.size() - eof.size(), eof.size(), eof) == 0;
    };
    if (luaL_loadbuffer(L, code.data(), code.size(), "=repl") != 0) {
      std::string err = error_text(L);
      lua_pop(L, 1);
      if (at_eof(err) || at_eof(as_expr)) {
        incomplete = true;
        return {};
      }
      fail(Code::LuaSyntax, {err});
    }
  }
  std::string err;
  if (!pcall(L, 0, LUA_MULTRET, &err, false)) fail(Code::LuaRuntime, {err});
  int n = lua_gettop(L) - top;
  std::string out;
  for (int i = 1; i <= n; ++i) {
    push_internal("pretty");
    lua_pushvalue(L, top + i);
    std::string e;
    if (!pcall(L, 1, 1, &e, false)) {
      out += (i > 1 ? "\t" : "") + std::string("<") + luaL_typename(L, top + i) + ">";
      continue;
    }
    out += (i > 1 ? "\t" : "") + std::string(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return out;
}

}  // namespace ochre::lua
