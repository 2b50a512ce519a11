// Hooks as coroutines on the session's one Lua state: started, resumed when what they
// wait on is ready, finished with an outcome; their output captured and shown per line.
#include "bindings/session.hpp"

#include <tuple>

namespace ochre::lua {

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", seconds);
  return buf;
}

JobContext* Session::context_of(lua_State* L) {
  auto it = contexts_.find(L);
  return it == contexts_.end() ? nullptr : it->second.get();
}

void Session::start_hook(std::unique_ptr<JobContext> ctx, int nargs) {
  lua_State* L = this->L();
  lua_State* co;
  if (!idle_threads_.empty()) {
    std::tie(co, ctx->thread_ref) = idle_threads_.back();
    idle_threads_.pop_back();
  } else {
    co = lua_newthread(L);
    ctx->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_xmove(L, co, nargs + 1);
  ctx->co = co;
  JobContext& ref = *ctx;
  contexts_.emplace(co, std::move(ctx));
  resume(ref, nargs);
}

void Session::resume(JobContext& ctx, int nargs) {
  ++resume_depth_;
  ++resumes_;
  bool watched = watchdog_ != nullptr;
  if (watched) watchdog_->enter(ctx.label, ctx.timeout, ctx.deadline);
  int rc = lua_resume(ctx.co, nargs);
  Watchdog::Reason stopped = watched ? watchdog_->leave() : Watchdog::None;
  --resume_depth_;
  JobOutcome out;
  if (rc != 0 && rc != LUA_YIELD && stopped != Watchdog::None) {
    out.kind = stopped == Watchdog::TimedOut ? JobOutcome::Failed : JobOutcome::Interrupted;
    out.error = stopped == Watchdog::TimedOut ? message(Msg::HookTimedOut, {ctx.label, seconds_text(ctx.timeout)})
                                              : ctx.label + " was interrupted";
  } else if (rc == LUA_YIELD) {
    if (ctx.waiting) return;
    out.kind = JobOutcome::Failed;
    std::string where;  // the line that yielded
    lua_Debug ar;
    for (int level = 0; where.empty() && lua_getstack(ctx.co, level, &ar); ++level)
      if (lua_getinfo(ctx.co, "Sl", &ar) && ar.currentline > 0)
        where = std::string(ar.short_src) + ":" + std::to_string(ar.currentline);
    out.error = message(Msg::HookYielded, {where.empty() ? ctx.label : ctx.label + " (" + where + ")"});
  } else if (rc == 0) {
    out = ctx.on_return(ctx.co, lua_gettop(ctx.co));
    return finish(ctx, std::move(out), true);
  } else {
    std::string msg = rc == LUA_ERRMEM ? message(Msg::OutOfMemoryIn, {"in the hook"}) : error_text(ctx.co, -1);
    luaL_traceback(L(), ctx.co, msg.c_str(), 0);
    out.kind = JobOutcome::Failed;
    out.error = message(Msg::HookFailed, {ctx.label, lua_tostring(L(), -1)});
    lua_pop(L(), 1);
  }
  finish(ctx, std::move(out));
}

void Session::finish(JobContext& ctx, JobOutcome outcome, bool reusable) {
  emit_lines(ctx, true);
  outcome.output = std::move(ctx.captured);
  cluster_hook_ended(ctx);
  HookRunner::Done done = std::move(ctx.done);
  lua_State* co = ctx.co;
  constexpr size_t keep = 64;  // more than hooks that end at once ever need
  if (reusable && idle_threads_.size() < keep) {
    lua_settop(co, 0);
    idle_threads_.emplace_back(co, ctx.thread_ref);
  } else {
    luaL_unref(L(), LUA_REGISTRYINDEX, ctx.thread_ref);
  }
  contexts_.erase(co);  // ctx is gone from here on
  if (done) done(std::move(outcome));
}

Watchdog& Session::watchdog() {
  if (!watchdog_) watchdog_ = std::make_unique<Watchdog>(L());
  return *watchdog_;
}

bool Session::stop_job(int index) {
  for (auto& [co, ctx] : contexts_) {
    if (ctx->index != index) continue;
    if (Wait* w = ctx->waiting) {
      w->job = nullptr;
      w->cancel();
    }
    emit_lines(*ctx, true);
    luaL_unref(L(), LUA_REGISTRYINDEX, ctx->thread_ref);
    contexts_.erase(co);
    return true;
  }
  return false;
}

void Session::abandon_all() {
  for (Wait* w : cancel_cluster_waits()) {
    w->job = nullptr;
    w->release();
  }
  for (Wait* w : std::vector<Wait*>(waits.begin(), waits.end())) {
    if (!w->job) continue;
    w->job = nullptr;
    w->cancel();
  }
  for (auto& [co, ctx] : contexts_) {
    emit_lines(*ctx, true);
    luaL_unref(L(), LUA_REGISTRYINDEX, ctx->thread_ref);
  }
  contexts_.clear();
}

void Session::run_until(const std::function<bool()>& done) {
  while (!done()) {
    if (!uv_run(&loop_, UV_RUN_ONCE) && !done())
      fail(Msg::WaitingOnNothing);
  }
}

JobOutcome Session::run_hook_blocking(const std::string& key, const std::string& label, int nargs,
                                      std::function<JobOutcome(lua_State*, int)> on_return, bool raw) {
  auto ctx = std::make_unique<JobContext>();
  ctx->raw = raw;
  ctx->key = key;
  ctx->label = label;
  ctx->on_return = std::move(on_return);
  JobOutcome result;
  bool finished = false;
  ctx->done = [&](JobOutcome o) {
    result = std::move(o);
    finished = true;
  };
  start_hook(std::move(ctx), nargs);
  run_until([&] { return finished; });
  return result;
}

void Session::write_output(lua_State* L, std::string_view text) {
  JobContext* ctx = context_of(L);
  if (ctx && ctx->raw) {
    fwrite(text.data(), 1, text.size(), stdout);
    fflush(stdout);
    return;
  }
  if (ctx) {
    ctx->captured.append(text);
    ctx->partial.append(text);
    emit_lines(*ctx, false);
    return;
  }
  if (options.output) {
    options.output(text);
  } else {
    fwrite(text.data(), 1, text.size(), stdout);
    fflush(stdout);
  }
}

void Session::emit_lines(JobContext& ctx, bool flush) {
  size_t start = 0;
  for (;;) {
    size_t nl = ctx.partial.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(ctx.partial.data() + start, nl - start);
    std::string masked;
    if (redactor) line = masked = redactor->apply(std::string(line));
    if (options.job_output) {
      options.job_output(ctx.key, line);
    } else {
      std::string out = "[" + ctx.key + "] ";
      out.append(line);
      out += '\n';
      fwrite(out.data(), 1, out.size(), stdout);
    }
    start = nl + 1;
  }
  ctx.partial.erase(0, start);
  if (flush && !ctx.partial.empty()) {
    ctx.partial += '\n';
    emit_lines(ctx, false);
  }
  if (!options.job_output) fflush(stdout);
}

void Wait::complete() {
  finished = true;
  if (!job) return;
  JobContext* j = job;
  j->waiting = nullptr;
  int n = push_results(j->co);
  session.resume(*j, n);
}

}  // namespace ochre::lua
