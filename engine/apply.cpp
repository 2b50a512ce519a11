// The Scheduler: one apply's jobs started in dependency order within -j, their outcomes
// recorded (group commit, engine/group_commit.hpp), retries, pools, timeouts and the
// stuck-hook path. One class over 600 lines: these all act on the same per-job
// bookkeeping (started_, running_, journal_id_, the ready queue), and splitting it would
// scatter that state; the timeout block is the first candidate to move out.
#include "engine/apply.hpp"

#include <uv.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <queue>

#include "engine/group_commit.hpp"
#include "engine/job_limits.hpp"
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

namespace {

// Skipped jobs whose blocker is only pending are "waiting": not a failure.
constexpr int Waiting = 100;

// The writes in its scope commit together, and with the batch around them if there is
// one (batches nest). Left by an exception, it commits what was written, as a batch does:
// each write is whole or absent.
class Batch {
 public:
  explicit Batch(StateStore& s) : s_(s) { s_.begin_batch(); }
  ~Batch() {
    if (!open_) return;
    try {
      s_.commit_batch();
    } catch (const std::exception&) {
    }
  }
  void commit() {
    open_ = false;
    s_.commit_batch();
  }

 private:
  StateStore& s_;
  bool open_ = true;
};

// A hook's error with its traceback can be long; a notification carries its start.
std::string clip(const std::string& text) {
  constexpr size_t max = 8000;
  return text.size() <= max ? text : text.substr(0, max) + "...";
}

class Scheduler {
 public:
  Scheduler(Plan& plan, Graph& graph, StateStore& state, HookRunner& runner,
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

  void begin(const RunInfo& info) {
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

  ~Scheduler() {
    runner_.on_stuck({});
    runner_.redact_with(nullptr);
    for (uv_timer_t*& t : timers_) close_timer(t);
  }

  // Runs every job left, as many at once as allowed.
  void run_rest() {
    uv_loop_t* loop = opts_.loop;
    Handles handles(loop, this, opts_.handle_signals, static_cast<bool>(events_.tick));
    group_.emplace(state_);
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
  std::vector<int> ready() const {
    std::vector<int> out;
    for (size_t j = 0; j < plan_.jobs.size(); ++j)
      if (!remaining_[j] && !started_[j] && report_.outcome[j] < 0) out.push_back(static_cast<int>(j));
    return out;
  }

  // Runs one ready job to its end; no other job starts meanwhile.
  JobOutcome step(int j) {
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
  void skip_job(int j) {
    if (j < 0 || j >= static_cast<int>(plan_.jobs.size()) || started_[j] || report_.outcome[j] >= 0)
      fail(Msg::JobNotSkippable, {std::to_string(j)});
    skip(j, "skipped by the user", JobOutcome::Skipped);
    skip_users(j, plan_.jobs[j].key + " was skipped", false);
  }

  ApplyReport end() {
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

 private:
  // The scheduler's own handles (Ctrl-C, the progress tick), closed on every way out.
  class Handles {
   public:
    Handles(uv_loop_t* loop, Scheduler* s, bool signals, bool tick)
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
    ~Handles() {
      if (signals_) {
        runner_.count_signals(false);
        uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
      }
      if (tick_) uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
      uv_run(loop_, UV_RUN_NOWAIT);  // let the close callbacks run while we still exist
    }

   private:
    uv_loop_t* loop_;
    HookRunner& runner_;
    bool signals_, tick_;
    uv_signal_t sigint_, sigterm_;
    uv_timer_t ticker_;
  };

  static void on_signal(uv_signal_t* h, int) {
    auto* self = static_cast<Scheduler*>(h->data);
    ++self->signals_;
    if (self->events_.interrupted) self->events_.interrupted(self->signals_);
  }

  static void on_tick(uv_timer_t* h) {
    auto* self = static_cast<Scheduler*>(h->data);
    self->events_.tick();
  }

  bool stopping() const { return signals_ > 0 || (opts_.fail_fast && report_.failed > 0); }

  void check_alive() {
    if (running_ > 0 && !has_completions() && !uv_loop_alive(opts_.loop))
      fail(Msg::JobsWaitOnNothing);
  }

  bool has_completions() const { return !completed_.empty() || !reread_.empty() || !deleted_.empty(); }

  void drain() {
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

  // ---- deferred decisions ----
  // A job whose sub-components had jobs in this run is decided once they ended (the
  // planner marks it deferred): its node is read again (if its type has a read hook)
  // and hashed again with its sub-components' ids as they came out, and then it runs as
  // planned, runs as a replace, or needs no hook at all (outcome Cutoff): unchanged, or
  // changed only through sub-components whose type has `cutoff` and whose outputs came
  // out the same as stored. Without read hooks and cutoff types nothing is hashed again.

  // Starts the read of a deferred job's node; the job counts as running meanwhile.
  void start_reread(int j) {
    started_[j] = 1;
    ++running_;
    runner_.reread(plan_.jobs[j].node, graph_, [this, j](JobOutcome o, PackedFields f) {
      reread_.emplace_back(j, std::make_pair(std::move(o), std::move(f)));
    });
  }

  void reread_done(int j, JobOutcome outcome, PackedFields fields) {
    if (report_.outcome[j] >= 0) return;  // abandoned already
    if (outcome.kind != JobOutcome::Done) {
      journal_id_[j] = 0;
      finish(j, std::move(outcome));
      return;
    }
    --running_;
    started_[j] = 0;
    const Node& node = graph_.node(plan_.jobs[j].node);
    bool changed = !(fields == node.fields);
    if (changed) graph_.set_fields(plan_.jobs[j].node, std::move(fields));
    decide(j, changed);
    if (report_.outcome[j] < 0) start(j);  // not cut off: its hook runs now
  }

  // Decides deferred job `j` (its fields read anew: `read_changed`). Leaves it to run
  // its hook (perhaps as a replace), or records it cut off.
  void decide(int j, bool read_changed) {
    decided_[j] = 1;
    Job& job = plan_.jobs[j];
    int n = job.node;
    const Node& node = graph_.node(n);
    bool cut_dep = false, moved_dep = false;
    for (int d : node.deps) {
      cut_dep = cut_dep || cut_[d];
      moved_dep = moved_dep || moved_[d];
    }
    if (!read_changed && !cut_dep && !moved_dep) return;  // as planned
    Ids now = graph_.ids(n);
    if (now.uuid != node.uuid || now.hash != node.hash) {
      moved_[n] = 1;
      graph_.set_ids(n, std::move(now));
      job.uuid = node.uuid;
    }
    const StoredInstance* st = job.stored >= 0 ? &plan_.stored[job.stored] : nullptr;
    if (job.action != Action::Update || !st || st->status != Status::Ok) return;
    if (node.hash == st->hash) return cut_off(j, "unchanged once its sub-components ran");
    if (cut_dep) {
      IdLookup as_stored = [&](const std::string& key, Tree tree) -> const std::string& {
        int d = graph_.find(key);
        const StoredInstance* ds = cut_[d] ? plan_.find_stored(key) : nullptr;
        const std::string& id = ds ? (tree == Tree::Full ? ds->hash : ds->uuid)
                                   : (tree == Tree::Full ? graph_.node(d).hash : graph_.node(d).uuid);
        return id;
      };
      Ids before = graph_.ids(n, as_stored);
      if (before.hash == st->hash) {
        std::string which;
        for (int d : node.deps)
          if (cut_[d]) which += (which.empty() ? "" : ", ") + graph_.node(d).key;
        return cut_off(j, "cutoff: the outputs of " + which + " did not change");
      }
    }
    if (node.uuid != st->uuid) {
      // A breaking field changed once its sub-components ran: the stored version is
      // deleted first, then the new one created, in this one job.
      replace_first_[j] = 1;
      job.action = Action::Create;
      job.replace = true;
      job.reason = "replace: a breaking field changed once its sub-components ran";
    }
  }

  // Records job `j` as needing no hook: its row takes the new ids, its outputs stay.
  void cut_off(int j, const std::string& why) {
    cut_[plan_.jobs[j].node] = 1;
    started_[j] = 1;
    ++running_;
    journal_id_[j] = 0;
    JobOutcome o;
    o.kind = JobOutcome::Cutoff;
    o.error = why;
    o.outputs = plan_.stored[plan_.jobs[j].stored].outputs;
    finish(j, std::move(o));
  }

  // Starts what can start and takes in what ended until nothing is left to do without
  // waiting. Outcomes share commits (group_); everything is committed before the loop
  // waits, so a job that waits on something is durable as running meanwhile.
  void pump() {
    group_->open();
    batching_ = true;
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
  bool has_room() const {
    constexpr int away_max = 1000;
    int jobs = std::max(1, opts_.jobs);
    return running_ - runner_.waiting_elsewhere() < jobs && running_ < jobs + away_max;
  }

  StoredInstance target(int j) const {
    const Job& job = plan_.jobs[j];
    StoredInstance t = job.node >= 0 ? target_of(graph_, job.node) : plan_.stored[job.stored];
    if (job.node >= 0 && job.stored >= 0) t.outputs = plan_.stored[job.stored].outputs;
    return t;
  }

  void start(int j) {
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

  void run_hook(int j) {
    launch(j, plan_.jobs[j], [this, j](JobOutcome o) { completed_.emplace_back(j, std::move(o)); });
  }

  // Runs `job`'s hook (job `j`, or a half of it); `then` takes its outcome. A hook that
  // did not end within this call waits on something: its start is written now, and
  // committed before the loop waits (pump).
  void launch(int j, const Job& job, std::function<void(JobOutcome)> then) {
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

  void finish(int j, JobOutcome outcome) {
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

  // ---- timeouts ----
  // A job's hook may take its node's lifecycle timeout, else the run's. While it waits on
  // the loop its timer sees it; busy in code, the runner does (HookRunner::limit).

  double timeout_of(int j) const {
    const Job& job = plan_.jobs[j];
    double t = job.node >= 0 ? graph_.lifecycle(job.node).timeout : 0;
    return t > 0 ? t : opts_.timeout;
  }

  void arm_timeout(int j) {
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

  static void close_timer(uv_timer_t*& timer) {
    if (!timer) return;
    uv_timer_stop(timer);
    uv_close(reinterpret_cast<uv_handle_t*>(timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer = nullptr;
  }

  static void on_timeout(uv_timer_t* timer) {
    auto* self = static_cast<Scheduler*>(timer->data);
    for (size_t j = 0; j < self->timers_.size(); ++j)
      if (self->timers_[j] == timer) return self->timed_out(static_cast<int>(j));
  }

  void timed_out(int j) {
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

  static std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", s);
    return buf;
  }

  // Called by the runner from another thread: a hook is stuck where nothing can stop
  // it, and this thread never comes back. Records the running jobs as interrupted and
  // the run's end, then commits; the runner ends the process.
  void stuck(const std::string& why) {
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

  // Writes `event` of this run to the outbox, for each webhook that wants it.
  void notify(std::string_view event, const JsonMembers& members) {
    if (opts_.notifier && !opts_.notifier->empty())
      state_.outbox_add(opts_.notifier->make(event, report_.run, members));
  }

  // job.failed for a job that failed or was interrupted, component.replaced for the
  // create that completes a replace.
  void notify_outcome(const Job& job, const JobOutcome& outcome) {
    bool failed = outcome.kind == JobOutcome::Failed || outcome.kind == JobOutcome::Interrupted;
    if (failed) {
      notify("job.failed", JsonMembers()
                               .add("key", job.key)
                               .add("uuid", job.uuid)
                               .add("action", action_name(job.action))
                               .add("outcome", outcome_name(outcome.kind))
                               .add("error", clip(outcome.error)));
    } else if (outcome.kind == JobOutcome::Done && job.replace && job.action == Action::Create) {
      const std::string& old_uuid = job.stored >= 0 ? plan_.stored[job.stored].uuid : std::string();
      notify("component.replaced", JsonMembers()
                                       .add("key", job.key)
                                       .add("uuid", job.uuid)
                                       .add("old_uuid", old_uuid)
                                       .add("reason", job.reason));
    }
  }

  // Skips everything that depends on job `j`; each says which of its deps held it back.
  void skip_users(int j, const std::string& why, bool pending) {
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

  void skip(int j, const std::string& why, int kind) {
    const Job& job = plan_.jobs[j];
    std::string text = kind == Waiting ? "waiting: " + why : why;
    state_.job_skipped(report_.run, j, job.action, job.key, job.uuid, text);
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
  bool take_pool(int j) {
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
  void give_back_pool(int j) {
    if (pooled_.empty() || !pooled_[j]) return;
    pooled_[j] = 0;
    pools_.give_back(graph_.lifecycle(plan_.jobs[j].node).pool);
    for (int h : held_) ready_.push(h);
    held_.clear();
  }

  // A failed hook with attempts left: this attempt is closed in the journal, and the job
  // starts again after its wait (the job counts as running meanwhile). False otherwise.
  bool retry_later(int j, const JobOutcome& outcome) {
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

  // Second Ctrl-C: running jobs are killed and recorded as interrupted.
  void abandon() {
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

  Plan& plan_;
  Graph& graph_;
  StateStore& state_;
  HookRunner& runner_;
  const ApplyOptions& opts_;
  const ApplyEvents& events_;
  ApplyReport report_;
  std::vector<int> remaining_;
  std::vector<std::vector<int>> users_;
  std::vector<long long> journal_id_;
  std::vector<char> started_;
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready_;
  std::deque<std::pair<int, JobOutcome>> completed_;
  std::deque<std::pair<int, std::pair<JobOutcome, PackedFields>>> reread_;  // reads that ended
  std::deque<int> deleted_;      // replaces decided late whose delete half is done
  std::vector<char> decided_;    // by job: a deferred job that was decided
  std::vector<char> replace_first_;  // by job: decided as a replace, its delete not run yet
  std::vector<char> cut_;        // by node: its outputs are as stored (dependents may be cut off)
  std::vector<char> moved_;      // by node: its ids changed while the run decided it
  Redactor redactor_;  // the sensitive values of the plan's instances, stored and planned
  std::vector<uv_timer_t*> timers_;  // by job: its timeout's timer while it runs (empty: none yet)
  int running_ = 0;
  int retrying_ = 0;  // jobs waiting for their next attempt
  int signals_ = 0;
  RunInfo info_;
  JobOutcome last_outcome_;
  bool batching_ = false;           // within pump: writes go to group_'s open batch
  std::optional<GroupCommit> group_;  // while run_rest runs
  int launching_ = -1;              // the job whose hook runner_.start is running
  bool launch_ended_ = false;       // and whether it ended within that call
  PoolCounts pools_;
  std::vector<int> held_;     // jobs waiting for room in their pool
  std::vector<char> pooled_;  // by job: it holds a place in its pool
  std::vector<int> attempt_;  // by job: the attempt under way (1: the first)
  RetryWaits waits_{opts_.loop};  // last: cancelled before the rest goes
};

}  // namespace

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
