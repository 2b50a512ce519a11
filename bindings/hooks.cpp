// Running a job's hook in Lua: create(self), update(self, old), delete(self).
// self is the live instance for create/update and the stored version for delete.
#include <filesystem>

#include "bindings/convert.hpp"
#include "bindings/session.hpp"
#include "engine/canonical.hpp"

namespace ochre::lua {

// Pushes the stored version of `key` as an instance of its type (refs resolved the same
// way), or the key as a string when it is not stored. Every stored instance it refers to
// is built first, deepest first and without recursion (a chain can be long), and kept in
// `cache`. A Lua error is thrown as Error(HookFailed) with its traceback. [-0, +1, -]
void LuaHookRunner::push_stored(const Plan& plan, const std::string& key,
                                std::unordered_map<std::string, int>& cache) {
  lua_State* L = s_.L();
  std::vector<std::pair<const std::string*, bool>> todo{{&key, false}};  // (key, its refs are built)
  while (!todo.empty()) {
    auto [k, refs_built] = todo.back();
    todo.pop_back();
    if (cache.count(*k)) continue;
    const StoredInstance* st = plan.find_stored(*k);
    if (!st) continue;  // pushed as its key
    if (!refs_built) {
      todo.emplace_back(k, true);
      for (const std::string& d : st->deps)
        if (!cache.count(d)) todo.emplace_back(&d, false);
      continue;
    }
    s_.push_internal("stored_instance");
    s_.push_type(st->type);
    if (lua_isnil(L, -1)) {  // its type is gone: pushed as its key
      lua_pop(L, 2);
      continue;
    }
    auto push_ref = [&](const std::string& r) {
      auto hit = cache.find(r);
      if (hit != cache.end()) lua_rawgeti(L, LUA_REGISTRYINDEX, hit->second);
      else lua_pushlstring(L, r.data(), r.size());
    };
    push_value(L, fields_to_value(st->fields), push_ref);
    push_value(L, st->outputs, push_ref);
    std::string err;
    if (!pcall(L, 3, 1, &err)) throw Error(Code::HookFailed, err);
    cache[*k] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  auto hit = cache.find(key);
  if (hit != cache.end()) lua_rawgeti(L, LUA_REGISTRYINDEX, hit->second);
  else lua_pushlstring(L, key.data(), key.size());
}

void LuaHookRunner::whole_run(bool starting) {
  s_.cache_files_root(starting);
  // Within a whole run the stored versions do not change: built once, shared by hooks.
  for (auto& [k, r] : run_cache_) luaL_unref(s_.L(), LUA_REGISTRYINDEX, r);
  run_cache_.clear();
  whole_ = starting;
}

// Commands held (HookRunner::hold_commands) go to the Spawner, made now if the session
// runs commands through a helper, so that it stays the same until the hold ends.
void LuaHookRunner::hold_commands(bool on) {
  s_.holding_commands = on;
  if (on && !s_.options.spawn_helper.empty()) s_.command_spawner();
  spawner_ = on ? s_.spawner.get() : nullptr;
  if (s_.spawner) s_.spawner->hold(on);
}

void LuaHookRunner::start(int index, const Job& job, const Plan& plan, const Graph& graph, Done done) {
  // The commands held so far belong to jobs whose starts are written: they may go at
  // the next commit, while this hook runs.
  if (spawner_) spawner_->seal();
  lua_State* L = s_.L();
  int top = lua_gettop(L);
  const char* hook = action_name(job.action);
  const StoredInstance* old = job.stored >= 0 ? &plan.stored[job.stored] : nullptr;

  s_.push_type(job.type);
  if (lua_isnil(L, -1)) {
    lua_settop(L, top);
    JobOutcome out;
    out.kind = JobOutcome::Failed;
    out.error = message(Code::TypeGone, {job.key, job.type, job.key});
    done(std::move(out));
    return;
  }
  lua_getfield(L, -1, "hooks");
  lua_getfield(L, -1, hook);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  bool has_hook = lua_isfunction(L, -1);
  // Where the hook is defined, for what it returns wrong.
  std::string hook_site;
  if (has_hook) {
    lua_Debug ar;
    lua_pushvalue(L, -1);
    if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
      hook_site = std::string(ar.short_src) + ":" + std::to_string(ar.linedefined);
  }

  // Outputs: the table the hook returns, or what was stored (update), or none.
  Value kept = old && job.action == Action::Update ? old->outputs : Value::map();
  std::string key = job.key;
  std::string label = job.key + ": " + hook;
  Session& s = s_;
  auto on_return = [&s, key, label, kept, action = job.action, hook_site](lua_State* co, int nres) {
    JobOutcome out;
    out.outputs = kept;
    if (action == Action::Delete || nres == 0 || lua_isnil(co, 1)) return out;
    s.push_internal("pending_reason");
    lua_State* L = s.L();
    lua_pushvalue(co, 1);
    lua_xmove(co, L, 1);
    std::string err;
    if (!pcall(L, 1, 1, &err)) {
      out.kind = JobOutcome::Failed;
      out.error = message(Msg::HookFailed, {label, err});
      return out;
    }
    if (!lua_isnil(L, -1)) {
      out.kind = JobOutcome::Pending;
      out.error = lua_tostring(L, -1);
      lua_pop(L, 1);
      return out;
    }
    lua_pop(L, 1);
    if (lua_istable(co, 1) && !is_instance(co, 1)) {
      try {
        out.outputs = to_value(co, 1, [&](int) -> std::string {
          fail(Msg::ValueInstanceOutput);
        }, "outputs");
      } catch (const Error& e) {
        out.kind = JobOutcome::Failed;
        out.error = message(Msg::HookOutputs, {label, e.what()});
      }
      return out;
    }
    out.kind = JobOutcome::Failed;
    out.error = message(Msg::HookReturn, {hook_site.empty() ? label : label + " (" + hook_site + ")",
                                          luaL_typename(co, 1)});
    return out;
  };

  int handle = job.node >= 0 ? graph.node(job.node).handle : LUA_NOREF;
  auto finish = [&s, key, handle, action = job.action, done = std::move(done)](JobOutcome out) {
    if (out.kind == JobOutcome::Done && action != Action::Delete) {
      // Dependents read these outputs as self.<field>.outputs.
      lua_State* L = s.L();
      auto set_outputs = [&](int ref) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        push_value(L, out.outputs, [&](const std::string& k) { lua_pushstring(L, k.c_str()); });
        lua_setfield(L, -2, "outputs");
        lua_pop(L, 1);
      };
      set_outputs(handle);
      auto aliases = s.alias_refs.find(key);
      if (aliases != s.alias_refs.end())
        for (int r : aliases->second) set_outputs(r);
    }
    if (out.kind == JobOutcome::Done && action == Action::Delete && !s.files_root_absent()) {
      // The instance is gone: so is its own file area.
      std::error_code ec;
      std::filesystem::remove_all(s.instance_dir(key), ec);
    }
    done(std::move(out));
  };

  if (!has_hook) {
    lua_settop(L, top);
    JobOutcome out;
    out.outputs = kept;
    finish(std::move(out));
    return;
  }
  std::unordered_map<std::string, int> job_cache;
  auto& cache = whole_ ? run_cache_ : job_cache;
  int nargs = 1;
  std::string failure;
  try {
    if (job.action == Action::Delete) {
      push_stored(plan, job.key, cache);
    } else {
      lua_rawgeti(L, LUA_REGISTRYINDEX, graph.node(job.node).handle);
      if (job.action == Action::Update) {
        push_stored(plan, job.key, cache);
        nargs = 2;
      }
    }
  } catch (const Error& e) {
    failure = e.what();
  }
  for (auto& [k, r] : job_cache) luaL_unref(L, LUA_REGISTRYINDEX, r);
  if (!failure.empty()) {  // the hook failure path, as if the hook had raised
    lua_settop(L, top);
    JobOutcome out;
    out.kind = JobOutcome::Failed;
    out.error = message(Msg::HookFailed, {label, failure});
    finish(std::move(out));
    return;
  }

  auto ctx = std::make_unique<JobContext>();
  ctx->key = key;
  ctx->label = label;
  ctx->index = index;
  if (limit_.index == index && limit_.seconds > 0) {
    ctx->timeout = limit_.seconds;
    ctx->deadline = limit_.deadline;
    s_.watchdog();  // resumes are watched from here on
  }
  ctx->on_return = std::move(on_return);
  ctx->done = std::move(finish);
  s_.start_hook(std::move(ctx), nargs);
}

}  // namespace ochre::lua
