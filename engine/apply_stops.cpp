// How a run stops hooks (engine/scheduler.hpp): a job's timeout, Ctrl-C and SIGTERM (the
// second abandons the running jobs), and a hook stuck where nothing can stop it.
#include <algorithm>
#include <cstdio>

#include "engine/scheduler.hpp"
#include "ochre/errors.hpp"

namespace ochre::detail {

Scheduler::Handles::Handles(uv_loop_t* loop, Scheduler* s, bool signals, bool tick)
    : loop_(loop), runner_(s->runner_), signals_(signals), tick_(tick) {
  if (signals_) {
    runner_.count_signals(true);
    for (auto [handle, signum] : {std::pair{&sigint_, SIGINT}, std::pair{&sigterm_, SIGTERM}}) {
      uv_signal_init(loop, handle);
      handle->data = s;
      uv_signal_start(handle, on_signal, signum);
      uv_unref(reinterpret_cast<uv_handle_t*>(handle));
    }
  }
  if (tick_) {
    uv_timer_init(loop, &ticker_);
    ticker_.data = s;
    uv_timer_start(&ticker_, on_tick, 100, 100);
    uv_unref(reinterpret_cast<uv_handle_t*>(&ticker_));
  }
}

Scheduler::Handles::~Handles() {
  if (signals_) {
    runner_.count_signals(false);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  }
  if (tick_) uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
  uv_run(loop_, UV_RUN_NOWAIT);  // let the close callbacks run while we still exist
}

void Scheduler::on_signal(uv_signal_t* h, int) {
  auto* self = static_cast<Scheduler*>(h->data);
  ++self->signals_;
  if (self->events_.interrupted) self->events_.interrupted(self->signals_);
}

void Scheduler::on_tick(uv_timer_t* h) {
  auto* self = static_cast<Scheduler*>(h->data);
  self->events_.tick();
}

// ---- timeouts ----
// A job's hook may take its node's lifecycle timeout, else the run's. While it waits on
// the loop its timer sees it; busy in code, the runner does (HookRunner::limit).

double Scheduler::timeout_of(int j) const {
  const Job& job = plan_.jobs[j];
  double t = job.node >= 0 ? graph_.lifecycle(job.node).timeout : 0;
  return t > 0 ? t : opts_.timeout;
}

void Scheduler::arm_timeout(int j) {
  double t = timeout_of(j);
  if (!(t > 0)) return;
  runner_.limit(j, t);
  if (timers_.empty()) timers_.assign(plan_.jobs.size(), nullptr);
  auto* timer = new uv_timer_t;
  uv_timer_init(opts_.loop, timer);
  timer->data = this;
  uv_timer_start(timer, on_timeout, static_cast<uint64_t>(t * 1000 + 0.5), 0);
  timers_[j] = timer;
}

void Scheduler::close_timer(uv_timer_t*& timer) {
  if (!timer) return;
  uv_timer_stop(timer);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer = nullptr;
}

void Scheduler::on_timeout(uv_timer_t* timer) {
  auto* self = static_cast<Scheduler*>(timer->data);
  for (size_t j = 0; j < self->timers_.size(); ++j)
    if (self->timers_[j] == timer) return self->timed_out(static_cast<int>(j));
}

namespace {
std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}
}  // namespace

void Scheduler::timed_out(int j) {
  if (report_.outcome[j] >= 0) return;
  for (const auto& c : completed_)
    if (c.first == j) return;  // it ended before its time was up
  runner_.stop(j);
  for (auto it = deleted_.begin(); it != deleted_.end();)  // a replace between its halves
    it = *it == j ? deleted_.erase(it) : it + 1;
  JobOutcome o;
  o.kind = JobOutcome::Failed;
  o.error = message(Msg::HookTimedOut, {plan_.jobs[j].key + ": " + action_name(plan_.jobs[j].action),
                                        seconds_text(timeout_of(j))});
  completed_.emplace_back(j, std::move(o));
}

// Called by the runner from another thread: a hook is stuck where nothing can stop
// it, and this thread never comes back. Records the running jobs as interrupted and
// the run's end, then commits; the runner ends the process.
void Scheduler::stuck(const std::string& why) {
  // The group committer's thread must not commit meanwhile, nor after: the process
  // ends once this returns, so the lock is never given back.
  state_.hook_use().lock();
  try {
    timers_.clear();  // closed with the process
    while (!completed_.empty()) {  // hooks that ended: their outcomes stand
      auto [j, outcome] = std::move(completed_.front());
      completed_.pop_front();
      finish(j, std::move(outcome));
    }
    std::vector<int> running;
    for (size_t j = 0; j < plan_.jobs.size(); ++j)
      if (started_[j] && report_.outcome[j] < 0) running.push_back(static_cast<int>(j));
    for (int j : running) {
      JobOutcome o;
      o.kind = JobOutcome::Interrupted;
      o.error = why.rfind(plan_.jobs[j].key + ":", 0) == 0
                    ? why
                    : plan_.jobs[j].key + ": " + action_name(plan_.jobs[j].action) + " was interrupted";
      finish(j, std::move(o));
    }
    signals_ = std::max(signals_, 1);  // the run's outcome: interrupted
    end();
    if (batching_) state_.commit_batch();
  } catch (const std::exception&) {
    // The next run finds them unfinished and records them as interrupted.
  }
}

// Second Ctrl-C: running jobs are killed and recorded as interrupted.
void Scheduler::abandon() {
  waits_.cancel_all();
  running_ += retrying_;  // the jobs that waited are finished below as interrupted
  retrying_ = 0;
  runner_.abandon_all();
  for (size_t j = 0; j < plan_.jobs.size(); ++j) {
    if (!started_[j] || report_.outcome[j] >= 0) continue;
    JobOutcome o;
    o.kind = JobOutcome::Interrupted;
    o.error = plan_.jobs[j].key + ": " + action_name(plan_.jobs[j].action) + " was interrupted";
    finish(static_cast<int>(j), o);
  }
  completed_.clear();
  reread_.clear();
  deleted_.clear();
}

}  // namespace ochre::detail
