// Running a job's hook in Lua: create(self), update(self, old), delete(self).
// self is the live instance for create/update and the stored version for delete.
#include <filesystem>

#include "bindings/convert.hpp"
#include "bindings/session.hpp"
#include "engine/canonical.hpp"

namespace ochre::lua {

namespace {
// Private keys of the values of a stored version not read yet: its key, and the
// runner's generation when it was made.
char stored_key_key, stored_generation_key;
}  // namespace

// Pushes the stored version of `key` as an instance of its type, or the key as a string
// when it is not stored or its type is gone. Its values hold only its identifier until
// something reads another field: then l_fill_stored reads the rest from the plan, with
// the instances they refer to made the same way. A hook given the root of a large graph
// pays for what it reads, not for the graph. Within a run a key has one table (kept
// weakly), so a stored instance reached by two paths is the same. `L` is the thread
// that reads (a hook's coroutine, or the main state). [-0, +1, -]
void LuaHookRunner::push_stored(lua_State* L, const std::string& key) {
  if (shells_ref_ == LUA_NOREF) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    shells_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, shells_ref_);
  lua_pushlstring(L, key.data(), key.size());
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  const StoredInstance* st = plan_ ? plan_->find_stored(key) : nullptr;
  if (st) {
    s_.push_internal(L, "stored_instance");
    s_.push_type(L, st->type);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 2);
      st = nullptr;
    }
  }
  if (!st) {
    lua_pop(L, 1);
    lua_pushlstring(L, key.data(), key.size());
    return;
  }
  if (fill_mt_ref_ == LUA_NOREF) {
    lua_createtable(L, 0, 1);
    slot_ = static_cast<Slot*>(lua_newuserdata(L, sizeof(Slot)));
    slot_->runner = this;
    lua_pushcclosure(L, trampoline<l_fill_stored>, 1);
    lua_setfield(L, -2, "__index");
    fill_mt_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, st->identifier.data(), st->identifier.size());
  lua_setfield(L, -2, "identifier");
  lua_pushlightuserdata(L, &stored_generation_key);
  lua_pushnumber(L, generation_);
  lua_rawset(L, -3);
  lua_pushlightuserdata(L, &stored_key_key);
  lua_pushlstring(L, key.data(), key.size());
  lua_rawset(L, -3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fill_mt_ref_);
  lua_setmetatable(L, -2);
  std::string err;
  if (!pcall(L, 2, 1, &err)) {
    lua_pop(L, 1);
    throw Error(Code::HookFailed, err);
  }
  lua_pushlstring(L, key.data(), key.size());
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);  // shells[key] = the instance
  lua_remove(L, -2);
}

// Sets the fields of `st` (and its outputs) in the table at `values`, but those a hook
// already set there.
void LuaHookRunner::fill_stored(lua_State* L, int values, const StoredInstance& st) {
  auto push_ref = [&](const std::string& r) { push_stored(L, r); };
  auto set = [&](const std::string& name, const Value& v) {
    lua_pushlstring(L, name.data(), name.size());
    lua_rawget(L, values);
    bool kept = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (kept) return;
    lua_pushlstring(L, name.data(), name.size());
    push_value(L, v, push_ref);
    lua_rawset(L, values);
  };
  Value fields = fields_to_value(st.fields);
  for (const auto& [name, v] : fields.entries) set(name.text, v);
  set("outputs", st.outputs);
}

// __index of the values of a stored version not read yet: (values, name).
int LuaHookRunner::l_fill_stored(lua_State* L) {
  lua_pushlightuserdata(L, &stored_key_key);
  lua_rawget(L, 1);
  if (lua_isnil(L, -1)) return 0;  // filled already (a field its type does not have)
  std::string key = lua_tostring(L, -1);
  lua_pushlightuserdata(L, &stored_generation_key);
  lua_rawget(L, 1);
  double generation = lua_tonumber(L, -1);
  lua_pop(L, 2);
  auto* self = static_cast<Slot*>(lua_touserdata(L, lua_upvalueindex(1)))->runner;
  const StoredInstance* st =
      self && generation == self->generation_ && self->plan_ ? self->plan_->find_stored(key) : nullptr;
  if (!st) throw UserError(message(Msg::StoredGone, {key}));
  for (char* k : {&stored_key_key, &stored_generation_key}) {
    lua_pushlightuserdata(L, k);
    lua_pushnil(L);
    lua_rawset(L, 1);
  }
  lua_pushnil(L);
  lua_setmetatable(L, 1);
  self->fill_stored(L, 1, *st);
  lua_settop(L, 2);
  lua_rawget(L, 1);
  return 1;
}

// The Lua state outlives the runner (a host's may live on): the tables it made stay
// readable as far as they were read, and raise stored-gone for the rest.
LuaHookRunner::~LuaHookRunner() {
  if (slot_) slot_->runner = nullptr;
  for (int ref : {shells_ref_, fill_mt_ref_})
    if (ref != LUA_NOREF) luaL_unref(s_.L(), LUA_REGISTRYINDEX, ref);
}

void LuaHookRunner::run_over() {
  plan_ = nullptr;
  generation_ += 1;
  if (shells_ref_ != LUA_NOREF) luaL_unref(s_.L(), LUA_REGISTRYINDEX, shells_ref_);
  shells_ref_ = LUA_NOREF;
}

void LuaHookRunner::whole_run(bool starting) { s_.cache_files_root(starting); }

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
  if (plan_ != &plan) {  // a plan of its own (the run's, or a step's)
    if (plan_) run_over();
    plan_ = &plan;
  }
  int nargs = 1;
  std::string failure;
  try {
    if (job.action == Action::Delete) {
      push_stored(L, job.key);
    } else {
      lua_rawgeti(L, LUA_REGISTRYINDEX, graph.node(job.node).handle);
      if (job.action == Action::Update) {
        push_stored(L, job.key);
        nargs = 2;
      }
    }
  } catch (const Error& e) {
    failure = e.what();
  }
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
