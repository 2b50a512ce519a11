// Runs a plan on an event loop: up to N jobs at once, each after its deps, its outcome
// committed as soon as it ends; dependents of a job that did not finish are skipped and
// recorded as such. Ctrl-C once stops starting jobs, twice abandons the running ones.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/notify.hpp"
#include "engine/planner.hpp"
#include "engine/sensitive.hpp"
#include "engine/state.hpp"

struct uv_loop_s;

namespace ochre {

// Runs the hook of one job. Implemented by the bindings (Lua) or by a host.
class HookRunner {
 public:
  using Done = std::function<void(JobOutcome)>;
  virtual ~HookRunner() = default;
  // Starts the job; calls `done` exactly once, right away or later from the event loop.
  // `outcome.outputs` must be set for a finished create/update.
  virtual void start(int index, const Job& job, const Plan& plan, const Graph& graph, Done done) = 0;
  // Kills whatever running jobs wait on; their `done` is never called afterwards.
  virtual void abandon_all() = 0;
  // A deferred job's node is read again once its sub-components' jobs ended, before it
  // is hashed again and decided: `done` gets the outcome of the read (not Done: the job
  // fails with it) and the node's fields as read. Called only for nodes with has_read.
  using Reread = std::function<void(JobOutcome outcome, PackedFields fields)>;
  virtual void reread(int node, const Graph& graph, Reread done) {
    done(JobOutcome{}, graph.node(node).fields);
  }
  // Around a run taken to its end (no code but the hooks runs in between): a runner may
  // trust what only its hooks could change until `starting` is false again.
  virtual void whole_run(bool starting) { (void)starting; }
  // The run is over and its plan may go: nothing is read from it after this.
  virtual void run_over() {}
  // --fail-fast after a failure: jobs that wait on a cluster are cancelled there and end
  // (through their `done`) as interrupted. Local commands are left to finish.
  virtual void cancel_cluster_jobs() {}
  // How many running jobs wait on work that runs elsewhere (a cluster job): they hold
  // no slot of -j, since the cluster queues that work itself.
  virtual int waiting_elsewhere() const { return 0; }

  // Timeouts and signals. `limit` comes right before `start` when the job's hook may
  // take `seconds` at most: a runner that can tell its code is busy past that (not
  // waiting on the loop, where the scheduler's timer sees it) ends the job itself,
  // Failed with Msg::HookTimedOut's text.
  virtual void limit(int index, double seconds) { (void)index, (void)seconds; }
  // The job's time is up while it waits on the loop: kill its commands and drop it;
  // its `done` is never called afterwards.
  virtual void stop(int index) { (void)index; }
  // Between on and off the run handles Ctrl-C and SIGTERM: a runner may end code busy in
  // a hook (the loop not running) when the second arrives, as Interrupted.
  virtual void count_signals(bool on) { (void)on; }
  // Set for the run (cleared at its end): what a runner calls, from another thread,
  // when a hook could be neither stopped nor interrupted (its thread never returns): it
  // records the running jobs as interrupted and ends the run in the state. The runner
  // then ends the process (exit 1); commands die with it.
  using Stuck = std::function<void(const std::string& why)>;
  virtual void on_stuck(Stuck stuck) { (void)stuck; }
  // For the run (null at its end): what replaces sensitive values in the lines of output
  // a runner shows as jobs run. Outcomes (error, output) are redacted by the scheduler.
  virtual void redact_with(const Redactor* redactor) { (void)redactor; }
  // While on, the commands hooks start are not started yet: at `false` they all start.
  // The scheduler holds them until the starts of the jobs they belong to are committed,
  // so that a command never runs with no record of its job (a kill -9 meanwhile would
  // lose that the job was under way).
  virtual void hold_commands(bool on) { (void)on; }
  // While they are held: the starts of the jobs launched so far are committed (but the
  // one whose hook runs now, when `hook_running`), so the commands those jobs started
  // may start. Called on the loop thread, or on another while a hook runs.
  virtual void commands_durable(bool hook_running) { (void)hook_running; }
};

struct ApplyEvents {
  std::function<void(int index, const Job& job)> started;
  std::function<void(int index, const Job& job, const JobOutcome& outcome)> finished;
  std::function<void(int signals)> interrupted;  // 1: first Ctrl-C, 2: second
  std::function<void()> tick;                     // about every 100 ms while jobs run
};

struct ApplyOptions {
  int jobs = 1;             // how many jobs may run at once
  double timeout = 0;       // seconds any hook may take; a node's lifecycle says otherwise
  bool fail_fast = false;   // stop starting jobs after the first failure
  bool handle_signals = true;
  uv_loop_s* loop = nullptr;
  const std::vector<std::string>* roots = nullptr;  // recorded as the source's roots
  bool clear_roots = false;  // a whole destroy: forget the source's roots when it succeeds
  // Makes the notifications of the run (run.started, job.failed, component.replaced,
  // run.finished, run.failed), each written to the outbox in the transaction of what it
  // reports. Null or empty: none.
  const Notifier* notifier = nullptr;
};

struct ApplyReport {
  long long run = 0;
  int done = 0, failed = 0, skipped = 0, pending = 0, waiting = 0, interrupted = 0, cutoff = 0;
  std::vector<int> outcome;  // JobOutcome::Kind of each job
  bool ok() const { return failed == 0 && skipped == 0 && interrupted == 0; }
  std::string summary() const;
};

// An apply taken one job at a time (the REPL's step): begun on construction (the run is
// in the journal), ended by end(). Options and events are copied.
class ApplyRun {
 public:
  // The plan's deferred jobs and the graph's nodes they are for are decided anew as the
  // run goes (ids, action), so both are the run's to change until it ends.
  ApplyRun(Plan& plan, Graph& graph, StateStore& state, HookRunner& runner,
           const RunInfo& info, const ApplyOptions& options, const ApplyEvents& events);
  ~ApplyRun();
  std::vector<int> ready() const;  // jobs that could run now, in plan order
  JobOutcome step(int job);        // runs one ready job to its end
  void skip(int job);              // leaves a job (and what depends on it) for later
  void run_rest();                 // runs every job left
  ApplyReport end();               // records what never ran and closes the run

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Before an apply, under the lock: marks what a dead ochre left running as interrupted
// and, in the same transaction, notifies run.failed (outcome "interrupted") for each of
// its runs of `source`, whose end nobody else will report.
void recover_interrupted(StateStore& state, const Notifier* notifier, const std::string& source);

// The instance as a finished create/update of `node` leaves it.
StoredInstance target_of(const Graph& graph, int node);

}  // namespace ochre
