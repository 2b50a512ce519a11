// The Scheduler behind ApplyRun: one apply's jobs started in dependency order within -j,
// their outcomes recorded (group commit, engine/group_commit.hpp), retries and pools.
// Its members are defined by job: apply.cpp (starting jobs and recording what ended),
// apply_deferred.cpp (jobs decided once their sub-components ran), apply_stops.cpp
// (timeouts, Ctrl-C/SIGTERM and a hook stuck where nothing can stop it). They share the
// per-job bookkeeping below (started_, running_, journal_id_, the ready queue).
// Internal to the engine.
#pragma once
#include <uv.h>

#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "engine/apply.hpp"
#include "engine/group_commit.hpp"
#include "engine/job_limits.hpp"

namespace ochre::detail {

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

class Scheduler {
 public:
  Scheduler(Plan& plan, Graph& graph, StateStore& state, HookRunner& runner,
            const ApplyOptions& opts, const ApplyEvents& events);
  ~Scheduler();
  void begin(const RunInfo& info);
  void run_rest();                  // runs every job left, as many at once as allowed
  std::vector<int> ready() const;   // jobs that could start now, in plan order
  JobOutcome step(int j);           // runs one ready job to its end; no other starts
  void skip_job(int j);             // leaves a job for a later run, with its dependents
  ApplyReport end();

 private:
  // The scheduler's own handles (Ctrl-C, the progress tick), closed on every way out.
  class Handles {
   public:
    Handles(uv_loop_t* loop, Scheduler* s, bool signals, bool tick);
    ~Handles();

   private:
    uv_loop_t* loop_;
    HookRunner& runner_;
    bool signals_, tick_;
    uv_signal_t sigint_, sigterm_;
    uv_timer_t ticker_;
  };

  // apply.cpp
  bool stopping() const { return signals_ > 0 || (opts_.fail_fast && report_.failed > 0); }
  void check_alive();
  bool has_completions() const { return !completed_.empty() || !reread_.empty() || !deleted_.empty(); }
  void drain();
  void pump();
  bool has_room() const;
  StoredInstance target(int j) const;
  void start(int j);
  void run_hook(int j);
  void launch(int j, const Job& job, std::function<void(JobOutcome)> then);
  void finish(int j, JobOutcome outcome);
  void notify(std::string_view event, const JsonMembers& members);
  void notify_outcome(const Job& job, const JobOutcome& outcome);
  void skip_users(int j, const std::string& why, bool pending);
  void skip(int j, const std::string& why, int kind);
  bool take_pool(int j);
  void give_back_pool(int j);
  bool retry_later(int j, const JobOutcome& outcome);

  // apply_deferred.cpp
  void start_reread(int j);
  void reread_done(int j, JobOutcome outcome, PackedFields fields);
  void decide(int j, bool read_changed);
  void cut_off(int j, const std::string& why);

  // apply_stops.cpp
  static void on_signal(uv_signal_t* h, int);
  static void on_tick(uv_timer_t* h);
  double timeout_of(int j) const;
  void arm_timeout(int j);
  static void close_timer(uv_timer_t*& timer);
  static void on_timeout(uv_timer_t* timer);
  void timed_out(int j);
  void stuck(const std::string& why);
  void abandon();

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

}  // namespace ochre::detail
