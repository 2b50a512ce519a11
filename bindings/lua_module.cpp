// require "ochre" from a LuaJIT host: the module's own engine, whose apply, plan and
// destroy run for real (ochre.apply(x [, opts])), owned by a userdata in the registry.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "bindings/session.hpp"
#include "ochre/ochre.hpp"

namespace ochre {

namespace {

// Where a verb's lines go in a host: to opts.output (a function given each line, without
// its newline), else to stdout when opts.print, else nowhere: a host's own output is
// its business. A line written while a hook runs waits until no hook does, so the
// callback always runs on the thread that called the verb, never inside a hook's
// coroutine. An error in the callback is raised once the verb has ended.
class LineSink {
 public:
  LineSink(lua::Session& s, lua_State* L) : s_(s), L_(L), saved_output_(s.options.output),
                                            saved_job_output_(s.options.job_output) {
    if (lua_istable(L, 2)) {
      lua_getfield(L, 2, "output");
      if (lua_isfunction(L, -1)) fn_ = luaL_ref(L, LUA_REGISTRYINDEX);
      else lua_pop(L, 1);
      lua_getfield(L, 2, "print");
      print_ = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    s.options.output = [this](std::string_view text) { text_(text); };
    s.options.job_output = [this](const std::string& key, std::string_view line) {
      std::string l = "[" + key + "] ";
      l.append(line);
      line_(std::move(l));
    };
  }
  ~LineSink() {
    s_.options.output = std::move(saved_output_);
    s_.options.job_output = std::move(saved_job_output_);
    if (fn_ != LUA_NOREF) luaL_unref(L_, LUA_REGISTRYINDEX, fn_);
  }
  LineSink(const LineSink&) = delete;
  LineSink& operator=(const LineSink&) = delete;

  // Text of whole lines (a table, a message).
  void text_(std::string_view text) {
    while (!text.empty()) {
      size_t nl = text.find('\n');
      line_(std::string(text.substr(0, nl)));
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
  }
  void line_(std::string line) {
    if (fn_ == LUA_NOREF && !print_) return;
    queued_.push_back(std::move(line));
    if (!s_.in_hook()) flush();
  }
  // Delivers what waits; throws the callback's first error (after the verb's end).
  void finish() {
    flush();
    if (!error_.empty()) throw lua::LuaError(error_);
  }

 private:
  void flush() {
    std::vector<std::string> lines = std::move(queued_);
    queued_.clear();
    for (const std::string& l : lines) {
      if (fn_ == LUA_NOREF) {
        std::fwrite(l.data(), 1, l.size(), stdout);
        std::fputc('\n', stdout);
        continue;
      }
      if (!error_.empty()) continue;
      lua_rawgeti(L_, LUA_REGISTRYINDEX, fn_);
      lua_pushlstring(L_, l.data(), l.size());
      if (!lua::pcall(L_, 1, 0, &error_, false) && error_.empty()) error_ = "error in the output function";
    }
    if (fn_ == LUA_NOREF) std::fflush(stdout);
  }

  lua::Session& s_;
  lua_State* L_;
  int fn_ = LUA_NOREF;
  bool print_ = false;
  std::vector<std::string> queued_;
  std::string error_;
  std::function<void(std::string_view)> saved_output_;
  std::function<void(const std::string&, std::string_view)> saved_job_output_;
};

// A LuaJIT host's ochre.apply(x [, opts]) / ochre.plan / ochre.destroy, run for real.
// opts: { state = PATH, jobs = N, print = BOOL, output = function(line) }. Returns a
// table (see README and docs/ochre.d.lua). Each verb ends a load of the pipeline: a
// type declared again after it replaces the earlier one.
int lua_verb(Engine& engine, lua::Session& s, lua_State* L, const std::string& verb) {
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "state");
    if (lua_isstring(L, -1)) engine.set_state_path(lua_tostring(L, -1));
    lua_getfield(L, 2, "jobs");
    if (lua_isnumber(L, -1)) s.options.jobs = static_cast<int>(lua_tonumber(L, -1));
    lua_pop(L, 2);
  }
  s.next_load();
  LineSink out(s, L);
  s.set_roots(1);
  if (verb == "destroy") engine.plan_destroy();
  else engine.plan();
  out.text_(engine.plan_table());
  if (verb == "plan") {
    auto jobs = engine.jobs();
    lua_createtable(L, static_cast<int>(jobs.size()), 0);
    for (const JobInfo& j : jobs) {
      lua_createtable(L, 0, 6);
      lua_pushstring(L, j.action.c_str());
      lua_setfield(L, -2, "action");
      lua_pushstring(L, j.key.c_str());
      lua_setfield(L, -2, "key");
      lua_pushstring(L, j.uuid.c_str());
      lua_setfield(L, -2, "uuid");
      lua_pushstring(L, j.details.c_str());
      lua_setfield(L, -2, "details");
      lua_pushstring(L, j.reason.c_str());
      lua_setfield(L, -2, "reason");
      lua_createtable(L, static_cast<int>(j.deps.size()), 0);
      for (size_t i = 0; i < j.deps.size(); ++i) {
        lua_pushinteger(L, j.deps[i]);
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      lua_setfield(L, -2, "deps");
      lua_rawseti(L, -2, j.index + 1);
    }
    out.finish();
    return 1;
  }
  struct Failure {
    JobInfo job;
    JobEnd end;
  };
  std::vector<Failure> failures;
  Callbacks cb;
  cb.finished = [&](const JobInfo& job, const JobEnd& end) {
    if (end.outcome == "failed" || end.outcome == "interrupted") failures.push_back({job, end});
    if (end.outcome == "done") return;
    out.line_(end.outcome + ": " + job.details + (end.error.empty() ? "" : ": " + end.error));
  };
  RunResult r = engine.apply(cb);
  lua_createtable(L, 0, 10);
  for (auto [name, n] : {std::pair{"done", r.done}, {"failed", r.failed}, {"skipped", r.skipped},
                         {"pending", r.pending}, {"waiting", r.waiting}, {"interrupted", r.interrupted}}) {
    lua_pushinteger(L, n);
    lua_setfield(L, -2, name);
  }
  lua_pushboolean(L, r.exit_code() == 0);
  lua_setfield(L, -2, "ok");
  lua_pushstring(L, r.nothing_to_do ? no_changes_text : r.summary.c_str());
  lua_setfield(L, -2, "summary");
  // failures: { { key, action, details, outcome, error }, ... } in the order they ended
  lua_createtable(L, static_cast<int>(failures.size()), 0);
  for (size_t i = 0; i < failures.size(); ++i) {
    const Failure& f = failures[i];
    lua_createtable(L, 0, 5);
    for (auto [name, v] : {std::pair{"key", &f.job.key}, {"action", &f.job.action},
                           {"details", &f.job.details}, {"outcome", &f.end.outcome}, {"error", &f.end.error}}) {
      lua_pushlstring(L, v->data(), v->size());
      lua_setfield(L, -2, name);
    }
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, -2, "failures");
  out.finish();
  return 1;
}

int l_engine_gc(lua_State* L) {
  auto** box = static_cast<Engine**>(lua_touserdata(L, 1));
  delete *box;
  *box = nullptr;
  return 0;
}

}  // namespace

}  // namespace ochre

namespace ochre {
namespace {

// require "ochre" in a LuaJIT host: one engine per Lua state, owned by a userdata in the
// registry (closed with the state), whose module's apply/plan/destroy run for real.
int open_module(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "ochre.engine");
  if (lua_isuserdata(L, -1)) {
    Engine* e = *static_cast<Engine**>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LuaModule::session(*e).module_ref);
    return 1;
  }
  lua_pop(L, 1);
  // The box exists (closed, empty) before the engine does, so __gc is always safe.
  auto** box = static_cast<Engine**>(lua_newuserdata(L, sizeof(Engine*)));
  *box = nullptr;
  lua_newtable(L);
  lua_pushcfunction(L, l_engine_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "ochre.engine");
  Options o;
  if (const char* st = std::getenv("OCHRE_STATE"); st && *st) o.state_path = st;
  else o.state_path = ".ochre/state.db";
  if (const char* ws = std::getenv("OCHRE_WORKSPACE"); ws && *ws) o.workspace = ws;
  *box = new Engine(L, o);
  Engine* e = *box;
  lua::Session& s = LuaModule::session(*e);
  s.set_source("lua");
  s.lua_verb = [e, &s](lua_State* LL, const char* verb) { return lua_verb(*e, s, LL, verb); };
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.module_ref);
  return 1;
}

}  // namespace
}  // namespace ochre

// An error opening the module is raised by the trampoline, after every C++ object of
// open_module is gone.
extern "C" int luaopen_ochre(lua_State* L) { return ochre::lua::trampoline<ochre::open_module>(L); }
