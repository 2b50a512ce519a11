// Running a job's hook in Lua: create(self), update(self, old), delete(self).
// self is the live instance for create/update and the stored version for delete.
#include <filesystem>

#include "bindings/convert.hpp"
#include "bindings/session.hpp"
#include "engine/canonical.hpp"

namespace ochre::lua {

// Pushes the stored version of `key` as an instance of its type (refs resolved the same
// way), or the key as a string when it is not stored. [-0, +1, e]
void LuaHookRunner::push_stored(const Plan& plan, const std::string& key,
                                std::unordered_map<std::string, int>& cache) {
  lua_State* L = s_.L();
  auto hit = cache.find(key);
  if (hit != cache.end()) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, hit->second);
    return;
  }
  const StoredInstance* st = nullptr;
  for (const auto& s : plan.stored)
    if (s.key == key) st = &s;
  if (!st) {
    lua_pushlstring(L, key.data(), key.size());
    return;
  }
  s_.push_internal("stored_instance");
  s_.push_type(st->type);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 2);
    lua_pushlstring(L, key.data(), key.size());
    return;
  }
  auto push_ref = [&](const std::string& k) { push_stored(plan, k, cache); };
  push_value(L, fields_to_value(st->fields), push_ref);
  push_value(L, st->outputs, push_ref);
  lua_call(L, 3, 1);
  lua_pushvalue(L, -1);
  cache[key] = luaL_ref(L, LUA_REGISTRYINDEX);
}

JobOutcome LuaHookRunner::run(const Job& job, const Plan& plan, const Graph& graph) {
  lua_State* L = s_.L();
  int top = lua_gettop(L);
  JobOutcome out;
  std::unordered_map<std::string, int> cache;
  const char* hook = action_name(job.action);
  const StoredInstance* old = job.stored >= 0 ? &plan.stored[job.stored] : nullptr;

  s_.push_type(job.type);
  if (lua_isnil(L, -1)) {
    lua_settop(L, top);
    out.kind = JobOutcome::Failed;
    out.error = message(Code::TypeGone, {job.key, job.type, job.key});
    return out;
  }
  lua_getfield(L, -1, "hooks");
  lua_getfield(L, -1, hook);
  bool has_hook = lua_isfunction(L, -1);
  int nargs = 0;
  if (has_hook) {
    if (job.action == Action::Delete) {
      push_stored(plan, job.key, cache);
      nargs = 1;
    } else {
      lua_rawgeti(L, LUA_REGISTRYINDEX, graph.node(job.node).handle);
      nargs = 1;
      if (job.action == Action::Update) {
        push_stored(plan, job.key, cache);
        nargs = 2;
      }
    }
  }

  std::string captured;
  s_.capture = &captured;
  std::string err;
  bool ok = true;
  int result_idx = 0;
  if (has_hook) {
    ok = pcall(L, nargs, 1, &err, true);
    result_idx = ok ? lua_gettop(L) : 0;
  }
  s_.capture = nullptr;
  out.output = std::move(captured);

  if (!ok) {
    out.kind = JobOutcome::Failed;
    out.error = job.key + ": " + hook + " failed: " + err;
  } else if (job.action != Action::Delete) {
    // Outputs: the table the hook returned, or what was stored (update), or none.
    Value outputs = Value::map();
    if (old && job.action == Action::Update) outputs = old->outputs;
    if (result_idx && !lua_isnil(L, result_idx)) {
      s_.push_internal("pending_reason");
      lua_pushvalue(L, result_idx);
      lua_call(L, 1, 1);
      if (!lua_isnil(L, -1)) {
        out.kind = JobOutcome::Pending;
        out.error = lua_tostring(L, -1);
      } else if (lua_istable(L, result_idx) && !is_instance(L, result_idx)) {
        try {
          outputs = to_value(L, result_idx, [&](int) -> std::string {
            fail(Code::BadValue, {"outputs", "an instance cannot be an output"});
          }, "outputs");
        } catch (const Error& e) {
          out.kind = JobOutcome::Failed;
          out.error = job.key + ": " + hook + " returned outputs that are not data: " + e.what();
        }
      } else {
        out.kind = JobOutcome::Failed;
        out.error = job.key + ": " + hook + " must return a table of outputs, ochre.pending(...) or nothing (it returned a " + luaL_typename(L, result_idx) + ")";
      }
    }
    if (out.kind == JobOutcome::Done) {
      out.outputs = outputs;
      auto refs = s_.instance_refs.find(job.key);
      if (refs != s_.instance_refs.end()) {
        for (int r : refs->second) {
          lua_rawgeti(L, LUA_REGISTRYINDEX, r);
          push_value(L, outputs, [&](const std::string& k) { lua_pushstring(L, k.c_str()); });
          lua_setfield(L, -2, "outputs");
          lua_pop(L, 1);
        }
      }
    }
  }
  if (job.action == Action::Delete && out.kind == JobOutcome::Done) {
    // The instance is gone: so is its own file area.
    std::error_code ec;
    std::filesystem::remove_all(s_.instance_dir(job.key), ec);
  }
  for (auto& [k, r] : cache) luaL_unref(L, LUA_REGISTRYINDEX, r);
  lua_settop(L, top);
  return out;
}

}  // namespace ochre::lua
