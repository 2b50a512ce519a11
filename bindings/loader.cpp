// Loading a pipeline and turning its instances into the engine's graph: stored outputs
// are given to the instances, read hooks run (sub-components first), fields are
// converted, duplicates and cycles are caught with the user's lines.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
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
    std::fprintf(stderr, "timing: %-12s %8.1f ms\n", phase,
                 std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

Session::Session(Options opts, lua_State* host)
    : options(std::move(opts)), state_path(options.state_path), borrowed(host != nullptr),
      lua_(host ? LuaState(host) : LuaState()) {
  if (int rc = uv_loop_init(&loop_)) fail(Code::Internal, {std::string("uv_loop_init: ") + uv_strerror(rc)});
  install_module(*this);
}

Session::~Session() {
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
  lock_ = StateLock::acquire(state_path + ".lock", state_path, options.lock_timeout);
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
  lua_getfield(L, idx, "hooks");
  lua_getfield(L, -1, "read");
  t.has_read = lua_isfunction(L, -1);
  lua_pop(L, 5);
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
  if (luaL_loadfile(L(), path.c_str()) != 0) {
    std::string err = error_text(L());
    lua_pop(L(), 1);
    lua_user_error(Code::LuaSyntax, err);
  }
  run_chunk(path);
}

void Session::load_string(std::string_view code, const std::string& name) {
  source = name;
  std::string chunk = "@" + name;
  if (luaL_loadbuffer(L(), code.data(), code.size(), chunk.c_str()) != 0) {
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
  lua_pop(L, 1);
  PhaseTimer timer;
  if (!pcall(L, 0, LUA_MULTRET, &err, false)) lua_user_error(Code::LuaRuntime, err);
  timer.mark("load file");
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
    if (n == 0) bad("an empty table");
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
    if (!state_) state_ = open_sqlite_state(state_path, OpenMode::ReadWrite);
    state_writable_ = true;
    return *state_;
  }
  // A read-only view is opened afresh each time: the file may have appeared or changed.
  if (!state_ || (write && !state_writable_) || (!write && !state_writable_)) {
    state_.reset();
    state_ = open_sqlite_state(state_path, write ? OpenMode::ReadWrite : OpenMode::ReadOnly);
    state_writable_ = write;
  }
  return *state_;
}

namespace {

// Walks the instances reachable from the roots, depth first, sub-components first.
class Collector {
 public:
  Collector(Session& s, const std::vector<StoredInstance>& stored) : s_(s), L(s.L()) {
    for (const auto& st : stored) stored_.emplace(st.key, &st);
  }

  template <class Timer>
  Graph run(Timer& timer) {
    for (int ref : s_.root_refs) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
      int n = visit(lua_gettop(L));
      lua_pop(L, 1);
      graph_.add_root(n);
    }
    timer.mark("collect");
    graph_.finalize();
    timer.mark("hash");
    return std::move(graph_);
  }

 private:
  struct Visit {
    std::string key;
    std::string site;
  };

  // Visits the instance at `idx`; returns its node index. [-0, +0, e]
  int visit(int idx) {
    const void* ptr = lua_topointer(L, idx);
    auto done = node_of_.find(ptr);
    if (done != node_of_.end()) return done->second;
    for (size_t i = 0; i < path_.size(); ++i) {
      if (path_ptrs_[i] != ptr) continue;
      std::string cycle;
      for (size_t j = i; j < path_.size(); ++j) cycle += path_[j].key + " -> ";
      cycle += path_[i].key;
      fail(Code::Cycle, {cycle}, path_[i].site);
    }
    if (!lua_checkstack(L, 16)) fail(Code::Cycle, {"instances nested too deeply"});

    // The DSL's record of the instance: { type = T, site = "file:line", values = {...} }.
    lua_rawgeti(L, LUA_REGISTRYINDEX, s_.instances_ref);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    int rec = lua_gettop(L);
    lua_getfield(L, rec, "type");
    lua_getfield(L, rec, "site");
    std::string site = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, rec, "values");
    lua_remove(L, rec);
    const int t_idx = rec;       // T
    const int values = rec + 1;  // the instance's values, a plain table
    const TypeInfo& type = s_.type_info(t_idx);
    lua_getfield(L, values, "identifier");
    std::string identifier = lua_tostring(L, -1);
    lua_pop(L, 1);
    std::string key = make_key(type.name, identifier);

    for (const auto& f : type.required) {
      lua_getfield(L, values, f.c_str());
      bool missing = lua_isnil(L, -1);
      lua_pop(L, 1);
      if (missing) {
        lua_settop(L, t_idx - 1);
        throw Error(Code::MissingField, message(Code::MissingField, {key, f}), site);
      }
    }

    path_.push_back({key, site});
    path_ptrs_.push_back(ptr);

    // What the last apply stored is visible to read and the hooks.
    auto st = stored_.find(key);
    if (st != stored_.end() && st->second->status == Status::Ok && !st->second->outputs.entries.empty()) {
      push_value(L, st->second->outputs, [&](const std::string& k) { lua_pushstring(L, k.c_str()); });
      lua_setfield(L, values, "outputs");
    }

    // Sub-components first, so their read hooks have run before ours.
    for (const auto& f : type.field_names) {
      lua_getfield(L, values, f.c_str());
      visit_children(lua_gettop(L));
      lua_pop(L, 1);
    }

    if (type.has_read) {
      lua_getfield(L, t_idx, "hooks");
      lua_getfield(L, -1, "read");
      lua_remove(L, -2);
      lua_pushvalue(L, idx);
      JobOutcome out = s_.run_hook_blocking(key, key + ": read", 1, [](lua_State*, int) {
        return JobOutcome{};
      });
      if (out.kind != JobOutcome::Done) {
        lua_settop(L, t_idx - 1);
        fail(Code::HookFailed, {out.error});
      }
    }

    Node node;
    node.type = type.name;
    node.identifier = identifier;
    node.key = key;
    node.breaks = type.breaks;
    node.site = site;
    node.fields.reserve(type.field_names.size() + 1);
    bool id_added = false;
    for (const auto& f : type.field_names) {
      if (!id_added && f > "identifier") {
        node.fields.emplace_back("identifier", Value::of_string(identifier));
        id_added = true;
      }
      lua_pushlstring(L, f.data(), f.size());
      lua_rawget(L, values);
      try {
        node.fields.emplace_back(
            f, to_value(L, -1, [&](int child) { return key_of(child); }, f));
      } catch (const Error& e) {
        lua_settop(L, t_idx - 1);
        if (e.code() != Code::BadValue) throw;
        throw Error(Code::BadValue, key + ": " + e.what(), site);
      }
      lua_pop(L, 1);
    }
    if (!id_added) node.fields.emplace_back("identifier", Value::of_string(identifier));

    path_.pop_back();
    path_ptrs_.pop_back();
    lua_settop(L, t_idx - 1);

    lua_pushvalue(L, idx);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    s_.instance_refs[key].push_back(ref);

    int existing = graph_.find(key);
    if (existing >= 0) {
      const Node& other = graph_.node(existing);
      if (other.fields != node.fields)
        fail(Code::Duplicate, {key, other.site, site});
      node_of_.emplace(ptr, existing);
      return existing;
    }
    node.handle = ref;
    int n = graph_.add(std::move(node));
    node_of_.emplace(ptr, n);
    return n;
  }

  std::string key_of(int idx) {
    int n = visit(idx);
    return graph_.node(n).key;
  }

  // Visits the instances inside the value at `idx` (not into instances themselves).
  void visit_children(int idx) {
    if (lua_type(L, idx) != LUA_TTABLE) return;
    if (is_instance(L, idx)) {
      visit(idx);
      return;
    }
    const void* ptr = lua_topointer(L, idx);
    if (!scanning_.insert(ptr).second) return;  // a cycle: conversion reports it
    if (!lua_checkstack(L, 4)) return;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      visit_children(lua_gettop(L));
      lua_pop(L, 1);
    }
    scanning_.erase(ptr);
  }

  Session& s_;
  lua_State* L;
  Graph graph_;
  std::unordered_map<std::string, const StoredInstance*> stored_;
  std::unordered_map<const void*, int> node_of_;
  std::vector<Visit> path_;
  std::vector<const void*> path_ptrs_;
  std::unordered_set<const void*> scanning_;
};

}  // namespace

void Session::build_graph(const std::vector<StoredInstance>& stored) {
  PhaseTimer timer;
  for (auto& [key, refs] : instance_refs)
    for (int r : refs) luaL_unref(L(), LUA_REGISTRYINDEX, r);
  instance_refs.clear();
  graph.reset();
  int top = lua_gettop(L());
  try {
    Collector collector(*this, stored);
    graph = collector.run(timer);
  } catch (...) {
    lua_settop(L(), top);
    throw;
  }
}


void Session::plan(bool destroy, const std::vector<std::string>& keys) {
  if (!has_roots) fail(Code::BadReturn, {"nothing"}, pipeline_name);
  PhaseTimer timer;
  StateStore& st = state(false);
  std::vector<StoredInstance> stored = st.load();
  auto roots = st.roots();
  timer.mark("state load");
  build_graph(stored);
  timer.mark("graph+hash");
  PlanOptions po;
  po.destroy = destroy;
  po.destroy_keys = keys;
  po.protected_keys = protected_keys(stored, roots, source);
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
  current_plan = make_plan(*graph, std::move(stored), po);
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
