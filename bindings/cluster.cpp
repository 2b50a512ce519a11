// ochre.sh with executor = "slurm": the command becomes a batch job of the session's
// SlurmExecutor (engine/slurm.hpp) and the hook waits for it as for a local command.
// Which executor runs a call: its own `executor` option, else --executor (Options),
// else ochre.settings { executor = ... }, else local. The `slurm` options are the
// settings' with the call's on top.
#include <filesystem>

#include "bindings/session.hpp"
#include "engine/slurm.hpp"

namespace ochre::lua {
namespace {

const char* const kSlurmKeys[] = {"partition", "cpus", "mem", "time", "gpus", "name", "extra"};

// Reads the slurm options table at `idx` into `spec` (fields it sets win). [-0, +0, e]
void read_spec(lua_State* L, int idx, const char* fn, SlurmSpec& spec) {
  if (lua_isnil(L, idx)) return;
  if (!lua_istable(L, idx)) throw UserError(message(Msg::ShSlurmTable, {fn}));
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    std::string k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    bool known = false;
    for (const char* n : kSlurmKeys) known = known || k == n;
    if (!known) throw UserError(message(Msg::ShSlurmOption, {fn, k, "is not an option"}));
    if (k == "cpus" || k == "gpus") {
      if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 0)
        throw UserError(message(Msg::ShSlurmOption, {fn, k, "must be a number"}));
      (k == "cpus" ? spec.cpus : spec.gpus) = static_cast<int>(lua_tonumber(L, -1));
    } else if (k == "extra") {
      if (!lua_istable(L, -1)) throw UserError(message(Msg::ShSlurmOption, {fn, k, "must be a list of strings"}));
      spec.extra.clear();
      for (int i = 1, n = static_cast<int>(lua_objlen(L, -1)); i <= n; ++i) {
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) != LUA_TSTRING)
          throw UserError(message(Msg::ShSlurmOption, {fn, k, "must be a list of strings"}));
        spec.extra.emplace_back(lua_tostring(L, -1));
        lua_pop(L, 1);
      }
    } else {
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        throw UserError(message(Msg::ShSlurmOption, {fn, k, "must be a string"}));
      std::string v = lua_tostring(L, -1);
      (k == "partition" ? spec.partition : k == "mem" ? spec.mem : k == "time" ? spec.time : spec.name) = v;
    }
    lua_pop(L, 1);
  }
}

class SlurmWait : public Wait {
 public:
  SlurmWait(Session& s, bool quiet) : Wait(s), quiet_(quiet) {}

  void done(ClusterResult r) {
    handle_ = 0;
    result_ = std::move(r);  // its output was shown as it came (show)
    complete();
    if (!blocking) release();
  }

  int push_results(lua_State* L) override {
    lua_createtable(L, 0, 6);
    if (!result_.error.empty()) {
      lua_pushlstring(L, result_.error.data(), result_.error.size());
      lua_setfield(L, -2, "error");
    }
    if (result_.has_code) {
      lua_pushnumber(L, static_cast<double>(result_.code));
      lua_setfield(L, -2, "code");
    }
    lua_pushlstring(L, result_.out.data(), result_.out.size());
    lua_setfield(L, -2, "stdout");
    lua_pushlstring(L, result_.err.data(), result_.err.size());
    lua_setfield(L, -2, "stderr");
    lua_pushboolean(L, result_.timed_out);
    lua_setfield(L, -2, "timed_out");
    if (!result_.job_id.empty()) {
      lua_pushlstring(L, result_.job_id.data(), result_.job_id.size());
      lua_setfield(L, -2, "slurm_job");
    }
    return 1;
  }

  void cancel() override {
    if (handle_ && session.slurm) session.slurm->cancel({handle_});
    handle_ = 0;
  }
  void release() override {
    cancel();
    // Outside a hook (the pipeline file) nothing ends a hook: its directory goes now.
    if (outside_ && session.slurm) session.slurm->hook_ended(outside_key);
    session.waits.erase(this);
    delete this;
  }
  uint64_t cluster_handle() const override { return handle_; }
  bool elsewhere() const override { return true; }

  // The job's output as it comes, as a local command's (none when quiet).
  SlurmExecutor::Output show() {
    if (quiet_) return nullptr;
    return [this](std::string_view text) {
      if (job) session.write_output(job->co, text);
    };
  }

  uint64_t handle_ = 0;
  bool outside_ = false;
  static constexpr const char* outside_key = "ochre";

 private:
  bool quiet_;
  ClusterResult result_;
};

}  // namespace

int LuaHookRunner::waiting_elsewhere() const {
  int n = 0;
  for (const Wait* w : s_.waits) n += w->job && w->elsewhere();
  return n;
}

// Which executor runs an ochre.sh call whose options are at `opts` (or none): true for
// Slurm, with `spec` filled. [-0, +0, e]
bool cluster_call(Session& s, lua_State* L, int opts, SlurmSpec& spec) {
  const char* fn = "ochre.sh";
  std::string executor;
  s.push_internal(L, "settings");
  int settings = lua_gettop(L);
  if (lua_istable(L, opts)) {
    lua_getfield(L, opts, "executor");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING) throw UserError(message(Msg::ShExecutor, {fn, luaL_typename(L, -1)}));
      executor = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
  }
  if (executor.empty()) executor = s.options.executor;
  if (executor.empty()) {
    lua_getfield(L, settings, "executor");
    if (lua_type(L, -1) == LUA_TSTRING) executor = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  if (executor != "" && executor != "local" && executor != "slurm")
    throw UserError(message(Msg::ShExecutor, {fn, "\"" + executor + "\""}));
  bool slurm = executor == "slurm";
  if (slurm) {
    lua_getfield(L, settings, "slurm");
    read_spec(L, -1, "ochre.settings", spec);
    lua_pop(L, 1);
    if (lua_istable(L, opts)) {
      lua_getfield(L, opts, "slurm");
      read_spec(L, -1, fn, spec);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, settings - 1);
  return slurm;
}

// Submits `cmd` and waits for its job; see waits.cpp for the local side.
int start_cluster_command(Session& s, lua_State* L, ClusterCommand cmd, bool quiet) {
  if (!s.slurm) s.slurm = std::make_unique<SlurmExecutor>(s.loop(), [&s] { return s.journal ? s.journal() : nullptr; });
  JobContext* ctx = s.context_of(L);
  cmd.key = ctx ? ctx->key : SlurmWait::outside_key;
  cmd.slot = ctx ? ctx->cluster_calls++ : 0;
  std::filesystem::path root = std::filesystem::absolute(s.files_root());
  cmd.dir = (root / ".slurm").string();
  auto* w = new SlurmWait(s, quiet);
  w->outside_ = ctx == nullptr;
  try {
    w->handle_ = s.slurm->start(std::move(cmd), [w](ClusterResult r) { w->done(std::move(r)); }, w->show());
  } catch (...) {
    delete w;
    throw;
  }
  return wait_for(L, s, w);
}

std::vector<Wait*> Session::cancel_cluster_waits() {
  std::vector<Wait*> ours;
  if (!slurm) return ours;
  std::vector<uint64_t> handles;
  for (Wait* w : waits) {
    if (!w->job || !w->cluster_handle()) continue;
    ours.push_back(w);
    handles.push_back(w->cluster_handle());
  }
  slurm->cancel(handles);  // one scancel for all; their `done` never comes
  return ours;
}

void Session::interrupt_cluster_jobs() {
  for (Wait* w : cancel_cluster_waits()) {
    JobContext* ctx = w->job;
    w->job = nullptr;
    ctx->waiting = nullptr;
    w->release();
    JobOutcome out;
    out.kind = JobOutcome::Interrupted;
    out.error = ctx->label + " was interrupted";
    finish(*ctx, std::move(out));
  }
}

void Session::cluster_hook_ended(const JobContext& ctx) {
  if (!ctx.cluster_calls || !slurm) return;
  try {
    slurm->hook_ended(ctx.key);
  } catch (const std::exception&) {
    // The state failed: the run fails on its next write; the rows are dropped next time.
  }
}

}  // namespace ochre::lua
