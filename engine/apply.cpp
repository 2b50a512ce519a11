// ApplyRun: one apply's jobs started in dependency order within -j and their outcomes
// recorded (group commit, engine/group_commit.hpp), retries and pools. The Scheduler's
// other members: apply_deferred.cpp (deferred decisions) and apply_stops.cpp (timeouts,
// signals, a stuck hook); its declaration: engine/scheduler.hpp.
#include "engine/apply.hpp"

#include <cstdio>

#include "engine/scheduler.hpp"
#include "ochre/errors.hpp"

namespace ochre {

std::string ApplyReport::summary() const {
  std::string s = std::to_string(done) + " done";
  if (failed) s += ", " + std::to_string(failed) + " failed";
  if (skipped) s += ", " + std::to_string(skipped) + " skipped";
  if (pending) s += ", " + std::to_string(pending) + " pending";
  if (waiting) s += ", " + std::to_string(waiting) + " waiting";
  if (interrupted) s += ", " + std::to_string(interrupted) + " interrupted";
  if (cutoff) s += ", " + std::to_string(cutoff) + " unchanged";
  return s;
}

StoredInstance target_of(const Graph& graph, int n) {
  const Node& node = graph.node(n);
  StoredInstance s;
  s.key = node.key;
  s.type = node.type;
  s.identifier = node.identifier;
  s.uuid = node.uuid;
  s.hash = node.hash;
  s.fields = node.fields;
  s.breaks = node.breaks;
  s.sensitive = node.sensitive;
  s.protect = graph.lifecycle(n).protect;
  for (int d : node.deps) s.deps.push_back(graph.node(d).key);
  return s;
}

namespace detail {
namespace {

// Skipped jobs whose blocker is only pending are "waiting": not a failure.
constexpr int Waiting = 100;

// A hook's error with its traceback can be long; a notification carries its start.
std::string clip(const std::string& text) {
  constexpr size_t max = 8000;
  return text.size() <= max ? text : text.substr(0, max) + "...";
}

}  // namespace

Scheduler::Scheduler(Plan& plan, Graph& graph, StateStore& state, HookRunner& runner,
                     const ApplyOptions& opts, const ApplyEvents& events)
    : plan_(plan), graph_(graph), state_(state), runner_(runner), opts_(opts), events_(events) {
  size_t n = plan.jobs.size();
  decided_.assign(n, 0);
  replace_first_.assign(n, 0);
  cut_.assign(graph.size(), 0);
  moved_.assign(graph.size(), 0);
  remaining_.assign(n, 0);
  users_.resize(n);
  journal_id_.assign(n, 0);
  started_.assign(n, 0);
  for (size_t j = 0; j < n; ++j)
    for (int d : plan.jobs[j].deps) {
      ++remaining_[j];
      users_[d].push_back(static_cast<int>(j));
    }
}

void Scheduler::begin(const RunInfo& info) {
  info_ = info;
  Batch batch(state_);
  report_.run = state_.begin_run(info);
  if (opts_.roots) state_.set_roots(info.source, *opts_.roots);
  notify("run.started", JsonMembers().add("jobs", static_cast<long long>(plan_.jobs.size())));
  batch.commit();
  report_.outcome.assign(plan_.jobs.size(), -1);
  for (size_t j = 0; j < plan_.jobs.size(); ++j)
    if (!remaining_[j]) ready_.push(static_cast<int>(j));
  runner_.on_stuck([this](const std::string& why) { stuck(why); });
  for (const StoredInstance& st : plan_.stored)
    if (!st.sensitive.empty()) redactor_.add(st.fields, st.sensitive);
  for (const Node& node : graph_.nodes())
    if (!node.sensitive.empty()) redactor_.add(node.fields, node.sensitive);
  runner_.redact_with(redactor_.empty() ? nullptr : &redactor_);
}

Scheduler::~Scheduler() {
  runner_.run_over();
  runner_.on_stuck({});
  runner_.redact_with(nullptr);
  for (uv_timer_t*& t : timers_) close_timer(t);
}

// Runs every job left, as many at once as allowed.
void Scheduler::run_rest() {
  uv_loop_t* loop = opts_.loop;
  Handles handles(loop, this, opts_.handle_signals, static_cast<bool>(events_.tick));
  group_.emplace(state_, [this](bool hook_running) { runner_.commands_durable(hook_running); });
  struct Reset {
    std::optional<GroupCommit>& g;
    ~Reset() { g.reset(); }
  } reset{group_};
  pump();
  while (running_ > 0 || retrying_ > 0) {
    uv_run(loop, UV_RUN_ONCE);
    if (signals_ >= 2 && running_ > 0) abandon();
    pump();
    check_alive();
  }
}

// Jobs that could start now, in plan order.
std::vector<int> Scheduler::ready() const {
  std::vector<int> out;
  for (size_t j = 0; j < plan_.jobs.size(); ++j)
    if (!remaining_[j] && !started_[j] && report_.outcome[j] < 0) out.push_back(static_cast<int>(j));
  return out;
}

// Runs one ready job to its end; no other job starts meanwhile.
JobOutcome Scheduler::step(int j) {
  if (j < 0 || j >= static_cast<int>(plan_.jobs.size()) || remaining_[j] || started_[j] ||
      report_.outcome[j] >= 0)
    fail(Msg::JobNotReady, {std::to_string(j)});
  start(j);
  while (report_.outcome[j] < 0) {
    drain();
    if (report_.outcome[j] >= 0) break;
    uv_run(opts_.loop, UV_RUN_ONCE);
    drain();
    check_alive();
  }
  return last_outcome_;
}

// Leaves a job for a later run; what depends on it waits too.
void Scheduler::skip_job(int j) {
  if (j < 0 || j >= static_cast<int>(plan_.jobs.size()) || started_[j] || report_.outcome[j] >= 0)
    fail(Msg::JobNotSkippable, {std::to_string(j)});
  skip(j, "skipped by the user", JobOutcome::Skipped);
  skip_users(j, plan_.jobs[j].key + " was skipped", false);
}

ApplyReport Scheduler::end() {
  runner_.on_stuck({});
  runner_.redact_with(nullptr);
  Batch batch(state_);  // the run's end and its notification commit together
  // Jobs never started (a stop was asked for) are recorded, so the journal is whole.
  for (size_t j = 0; j < plan_.jobs.size(); ++j)
    if (report_.outcome[j] < 0) skip(static_cast<int>(j), "not started: the run was stopped", JobOutcome::Skipped);
  if (opts_.clear_roots && report_.ok() && report_.pending == 0) state_.set_roots(info_.source, {});
  std::string outcome = signals_ ? "interrupted"
                        : !report_.ok() ? "failed"
                        : report_.pending ? "pending" : "done";
  state_.end_run(report_.run, outcome, report_.summary());
  bool finished = outcome == "done" || outcome == "pending";
  notify(finished ? "run.finished" : "run.failed",
         JsonMembers()
             .add("outcome", outcome)
             .add("summary", report_.summary())
             .add("done", report_.done)
             .add("failed", report_.failed)
             .add("skipped", report_.skipped + report_.waiting)
             .add("pending", report_.pending)
             .add("interrupted", report_.interrupted));
  batch.commit();
  return report_;
}

void Scheduler::check_alive() {
  if (running_ > 0 && !has_completions() && !uv_loop_alive(opts_.loop))
    fail(Msg::JobsWaitOnNothing);
}

void Scheduler::drain() {
  while (!completed_.empty() || !reread_.empty() || !deleted_.empty()) {
    if (!reread_.empty()) {
      auto [j, read] = std::move(reread_.front());
      reread_.pop_front();
      reread_done(j, std::move(read.first), std::move(read.second));
    } else if (!deleted_.empty()) {
      int j = deleted_.front();
      deleted_.pop_front();
      run_hook(j);  // the create half of a replace decided late
    } else {
      auto [j, outcome] = std::move(completed_.front());
      completed_.pop_front();
      finish(j, std::move(outcome));
    }
  }
}

// Starts what can start and takes in what ended until nothing is left to do without
// waiting. Outcomes share commits (group_); everything is committed before the loop
// waits, so a job that waits on something is durable as running meanwhile. Commands the
// hooks start meanwhile are held until that commit.
void Scheduler::pump() {
  group_->open();
  batching_ = true;
  runner_.hold_commands(true);
  struct Release {  // after the commit, or when it failed (the run then ends)
    HookRunner& r;
    ~Release() { r.hold_commands(false); }
  } release{runner_};
  for (;;) {
    group_->checkpoint();
    drain();
    while (!stopping() && has_room() && !ready_.empty()) {
      int j = ready_.top();
      ready_.pop();
      if (started_[j] || report_.outcome[j] >= 0) continue;  // stepped or skipped already
      if (!take_pool(j)) continue;  // back in ready_ when one of its pool's jobs ends
      start(j);
    }
    if (!has_completions()) break;
  }
  batching_ = false;
  group_->close();
}

// Room for one more job: fewer than -j run here (jobs waiting on a cluster's work take
// no slot), and no more than `away_max` more wait on a cluster (its queue is finite).
bool Scheduler::has_room() const {
  constexpr int away_max = 1000;
  int jobs = std::max(1, opts_.jobs);
  return running_ - runner_.waiting_elsewhere() < jobs && running_ < jobs + away_max;
}

StoredInstance Scheduler::target(int j) const {
  const Job& job = plan_.jobs[j];
  StoredInstance t = job.node >= 0 ? target_of(graph_, job.node) : plan_.stored[job.stored];
  if (job.node >= 0 && job.stored >= 0) t.outputs = plan_.stored[job.stored].outputs;
  return t;
}

void Scheduler::start(int j) {
  const Job& job = plan_.jobs[j];
  if (job.deferred && !decided_[j]) {
    if (graph_.node(job.node).has_read) return start_reread(j);
    decide(j, false);
    if (report_.outcome[j] >= 0) return;  // cut off
  }
  if (events_.started) events_.started(j, job);
  // In a run, a hook that ends without waiting has its start and outcome recorded
  // together (finish); one that waits is recorded running as it begins to (launch).
  // A step records the start first, committed on its own.
  journal_id_[j] = batching_ ? 0 : state_.job_started(report_.run, j, job.action, target(j));
  started_[j] = 1;
  ++running_;
  arm_timeout(j);
  if (replace_first_[j]) {
    replace_first_[j] = 0;
    Job old = job;  // the stored version's delete, then (drain) the create
    old.action = Action::Delete;
    old.node = -1;
    old.uuid = plan_.stored[job.stored].uuid;
    launch(j, old, [this, j](JobOutcome o) {
      if (o.kind == JobOutcome::Done) deleted_.push_back(j);
      else completed_.emplace_back(j, std::move(o));
    });
    return;
  }
  run_hook(j);
}

void Scheduler::run_hook(int j) {
  launch(j, plan_.jobs[j], [this, j](JobOutcome o) { completed_.emplace_back(j, std::move(o)); });
}

// Runs `job`'s hook (job `j`, or a half of it); `then` takes its outcome. A hook that
// did not end within this call waits on something: its start is written now, and
// committed before the loop waits (pump).
void Scheduler::launch(int j, const Job& job, std::function<void(JobOutcome)> then) {
  launching_ = j;
  launch_ended_ = false;
  {
    GroupCommit::InHook in_hook(batching_ ? &*group_ : nullptr);
    runner_.start(j, job, plan_, graph_, [this, j, then = std::move(then)](JobOutcome o) {
      if (launching_ == j) launch_ended_ = true;
      then(std::move(o));
    });
  }
  launching_ = -1;
  if (launch_ended_ || journal_id_[j]) return;
  journal_id_[j] = state_.job_started(report_.run, j, plan_.jobs[j].action, target(j));
  group_->wrote();
}

void Scheduler::finish(int j, JobOutcome outcome) {
  if (report_.outcome[j] >= 0) return;  // abandoned already
  if (!timers_.empty()) close_timer(timers_[j]);
  if (!redactor_.empty()) {  // a hook's error or output may quote a sensitive value
    outcome.error = redactor_.apply(std::move(outcome.error));
    outcome.output = redactor_.apply(std::move(outcome.output));
  }
  if (retry_later(j, outcome)) return;
  --running_;
  give_back_pool(j);
  last_outcome_ = outcome;
  const Job& job = plan_.jobs[j];
  Batch batch(state_);  // the outcome and its notification commit together
  if (journal_id_[j]) state_.job_finished(journal_id_[j], job.action, target(j), outcome);
  else journal_id_[j] = state_.job_done(report_.run, j, job.action, target(j), outcome);
  notify_outcome(job, outcome);
  batch.commit();
  if (batching_) group_->wrote();
  report_.outcome[j] = outcome.kind;
  switch (outcome.kind) {
    case JobOutcome::Done: ++report_.done; break;
    case JobOutcome::Cutoff: ++report_.cutoff; break;
    case JobOutcome::Pending: ++report_.pending; break;
    case JobOutcome::Interrupted: ++report_.interrupted; break;
    default: ++report_.failed; break;
  }
  if (outcome.kind == JobOutcome::Done && job.node >= 0 && job.stored >= 0 && !job.replace &&
      graph_.node(job.node).cutoff) {
    // Its dependents react to its outputs: the same as stored, they may be cut off.
    const StoredInstance& st = plan_.stored[job.stored];
    if (st.status == Status::Ok && outcome.outputs == st.outputs) cut_[job.node] = 1;
  }
  if (events_.finished) events_.finished(j, job, outcome);
  if (outcome.applied()) {
    for (int u : users_[j])
      if (--remaining_[u] == 0 && report_.outcome[u] < 0) ready_.push(u);
    return;
  }
  if (opts_.fail_fast && outcome.kind == JobOutcome::Failed) runner_.cancel_cluster_jobs();
  bool pending = outcome.kind == JobOutcome::Pending;
  std::string why = job.key + (pending ? " is pending" : outcome.kind == JobOutcome::Interrupted
                                                             ? " was interrupted" : " failed");
  skip_users(j, why, pending);
}

// Writes `event` of this run to the outbox, for each webhook that wants it.
void Scheduler::notify(std::string_view event, const JsonMembers& members) {
  if (opts_.notifier && !opts_.notifier->empty())
    state_.outbox_add(opts_.notifier->make(event, report_.run, members));
}

// job.failed for a job that failed or was interrupted, component.replaced for the
// create that completes a replace.
void Scheduler::notify_outcome(const Job& job, const JobOutcome& outcome) {
  bool failed = outcome.kind == JobOutcome::Failed || outcome.kind == JobOutcome::Interrupted;
  if (failed) {
    notify("job.failed", JsonMembers()
                             .add("key", job.key)
                             .add("uuid", job.uuid)
                             .add("action", action_name(job.action))
                             .add("outcome", outcome_name(outcome.kind))
                             .add("error", clip(outcome.error)));
  } else if (outcome.kind == JobOutcome::Done && job.replace && job.action == Action::Create) {
    std::string old_uuid = job.stored >= 0 ? plan_.stored[job.stored].uuid.str() : std::string();
    notify("component.replaced", JsonMembers()
                                     .add("key", job.key)
                                     .add("uuid", job.uuid)
                                     .add("old_uuid", old_uuid)
                                     .add("reason", job.reason));
  }
}

// Skips everything that depends on job `j`; each says which of its deps held it back.
void Scheduler::skip_users(int j, const std::string& why, bool pending) {
  std::vector<std::pair<int, std::string>> todo;
  for (int u : users_[j]) todo.emplace_back(u, why);
  while (!todo.empty()) {
    auto [u, reason] = std::move(todo.back());
    todo.pop_back();
    if (report_.outcome[u] >= 0) continue;
    skip(u, reason, pending ? Waiting : JobOutcome::Skipped);
    std::string next = plan_.jobs[u].key + (pending ? " is waiting" : " was skipped");
    for (int w : users_[u]) todo.emplace_back(w, next);
  }
}

void Scheduler::skip(int j, const std::string& why, int kind) {
  const Job& job = plan_.jobs[j];
  std::string text = kind == Waiting ? "waiting: " + why : why;
  state_.job_skipped(report_.run, j, job.action, job.key, job.uuid.str(), text);
  if (batching_) group_->wrote();
  report_.outcome[j] = JobOutcome::Skipped;
  if (kind == Waiting) ++report_.waiting;
  else ++report_.skipped;
  if (events_.finished) {
    JobOutcome o;
    o.kind = JobOutcome::Skipped;
    o.error = text;
    events_.finished(j, job, o);
  }
}

// ---- lifecycle: pools and retries (engine/job_limits.hpp) ----
// True when job `j` may start under its pool's limit; else it is held until a job of
// the pool ends.
bool Scheduler::take_pool(int j) {
  int n = plan_.jobs[j].node;
  if (n < 0 || graph_.lifecycle(n).pool.empty()) return true;
  const std::string& pool = graph_.lifecycle(n).pool;
  if (!pools_.take(pool, graph_.pool_size(pool))) {
    held_.push_back(j);
    return false;
  }
  if (pooled_.empty()) pooled_.assign(plan_.jobs.size(), 0);
  pooled_[j] = 1;
  return true;
}

void Scheduler::give_back_pool(int j) {
  if (pooled_.empty() || !pooled_[j]) return;
  pooled_[j] = 0;
  pools_.give_back(graph_.lifecycle(plan_.jobs[j].node).pool);
  for (int h : held_) ready_.push(h);
  held_.clear();
}

// A failed hook with attempts left: this attempt is closed in the journal, and the job
// starts again after its wait (the job counts as running meanwhile). False otherwise.
bool Scheduler::retry_later(int j, const JobOutcome& outcome) {
  const Job& job = plan_.jobs[j];
  // Hooks that failed are tried again; a read of a deferred job that failed is not.
  if (outcome.kind != JobOutcome::Failed || job.node < 0 || (job.deferred && !decided_[j]) || stopping())
    return false;
  const Retry& r = graph_.lifecycle(job.node).retry;
  if (attempt_.empty()) attempt_.assign(plan_.jobs.size(), 1);
  if (attempt_[j] >= r.attempts) return false;
  double wait = retry_wait(r, attempt_[j] + 1);
  char secs[32];
  snprintf(secs, sizeof secs, "%g", wait);
  JobOutcome failed = outcome;
  failed.error = message(Msg::RetryAttempt, {std::to_string(attempt_[j]), std::to_string(r.attempts), secs,
                                             outcome.error});
  if (journal_id_[j]) state_.job_finished(journal_id_[j], job.action, target(j), failed);
  else state_.job_done(report_.run, j, job.action, target(j), failed);  // it ended at once
  if (batching_) group_->wrote();
  ++attempt_[j];
  --running_;  // its place is free for other jobs while it waits
  ++retrying_;
  waits_.wait(wait, [this, j, outcome] {
    ++running_;
    --retrying_;
    if (report_.outcome[j] >= 0) return;  // abandoned meanwhile
    if (stopping()) return finish(j, outcome);  // no retry once a stop was asked for
    journal_id_[j] = state_.job_started(report_.run, j, plan_.jobs[j].action, target(j));
    arm_timeout(j);
    run_hook(j);
  });
  return true;
}

}  // namespace detail

using detail::Batch;
using detail::Scheduler;

void recover_interrupted(StateStore& state, const Notifier* notifier, const std::string& source) {
  Batch batch(state);
  std::vector<RunRecord> dead;
  // Runs still "running" belong to a dead ochre (the lock is ours); each later run
  // recovered the ones before it, so they are among the newest.
  for (RunRecord& r : state.runs(8))
    if (r.outcome == "running" && r.source == source) dead.push_back(std::move(r));
  state.recover_interrupted();
  if (notifier && !notifier->empty())
    for (auto it = dead.rbegin(); it != dead.rend(); ++it)
      state.outbox_add(notifier->make("run.failed", it->id, it->command,
                                      JsonMembers()
                                          .add("outcome", "interrupted")
                                          .add("summary", "ochre stopped before the run ended")));
  batch.commit();
}

struct ApplyRun::Impl {
  Impl(Plan& plan, Graph& graph, StateStore& state, HookRunner& runner,
       const ApplyOptions& o, const ApplyEvents& e)
      : options(o), events(e), scheduler(plan, graph, state, runner, options, events) {}
  ApplyOptions options;
  ApplyEvents events;
  Scheduler scheduler;
};

ApplyRun::ApplyRun(Plan& plan, Graph& graph, StateStore& state, HookRunner& runner,
                   const RunInfo& info, const ApplyOptions& options, const ApplyEvents& events)
    : impl_(std::make_unique<Impl>(plan, graph, state, runner, options, events)) {
  impl_->scheduler.begin(info);
}
ApplyRun::~ApplyRun() = default;
std::vector<int> ApplyRun::ready() const { return impl_->scheduler.ready(); }
JobOutcome ApplyRun::step(int job) { return impl_->scheduler.step(job); }
void ApplyRun::skip(int job) { impl_->scheduler.skip_job(job); }
void ApplyRun::run_rest() { impl_->scheduler.run_rest(); }
ApplyReport ApplyRun::end() { return impl_->scheduler.end(); }

}  // namespace ochre
