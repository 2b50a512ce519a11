// One state and everything done with it: the store, its lock, the read ahead, planning
// (again under the lock before an apply), applying and destroying, the state commands
// (rm, mv), and the notifications of an apply. It knows the pipeline only through
// PipelineSource (what to plan) and HookRunner (how to run a job's hook), so it is the
// same for a Lua pipeline, a host's native types or a test's fakes.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/apply.hpp"
#include "engine/graph.hpp"
#include "engine/moves.hpp"
#include "engine/notify.hpp"
#include "engine/planner.hpp"
#include "engine/sensitive.hpp"
#include "engine/state.hpp"
#include "ochre/ochre.hpp"

// Why and JobReason list the same reasons in the same order.
static_assert(static_cast<int>(ochre::Why::Destroy) == static_cast<int>(ochre::JobReason::Destroy));

struct uv_loop_s;

namespace ochre {

class Delivery;

// The pipeline a workspace plans: its graph, and what its types say.
class PipelineSource {
 public:
  virtual ~PipelineSource() = default;
  // The pipeline's absolute path, or the name a host gave it: roots and runs are
  // recorded under it.
  virtual const std::string& source() const = 0;
  // The pipeline as the user named it, for messages.
  virtual const std::string& name() const = 0;
  virtual bool has_roots() const = 0;
  // Builds the graph of the roots: read hooks, conversion, hashing (Graph::finalize with
  // the stored rows). `stored` and `index` are filled once `read_state` was called, which
  // the source does before anything needs the state (a read hook) and at its end, as is
  // `hash_key`, given to the graph (Graph::set_hash_key) before it is finalized.
  virtual Graph build_graph(const std::vector<StoredInstance>& stored, const KeyIndex& index,
                            const std::string& hash_key, const std::function<void()>& read_state) = 0;
  // The graph built last is dropped: handles its nodes hold can be released.
  virtual void release_graph(const Graph& graph) = 0;
  virtual bool type_defined(const std::string& type) = 0;
  // Fields never shown, by type, as the types declare them.
  virtual Sensitive sensitive() = 0;
  // The webhooks the pipeline declared (checked where they were declared).
  virtual std::vector<Endpoint> webhooks() = 0;
  // Its ochre.moved and ochre.removed, in the order declared.
  virtual std::vector<Moved> moved() { return {}; }
  virtual std::vector<Removed> removed() { return {}; }
  // `ochre import`: while the graph is built next, what the read hook of `key` returns
  // (a table) is kept, and read_outputs() gives it (an empty map when it returned none).
  virtual void keep_read_outputs(const std::string& key) { (void)key; }
  virtual Value read_outputs() { return Value::map(); }
};

// What a job's start and end look like to a host: typed, indexed in the plan.
// `graph` (may be null) names what a deferred job waits for.
JobInfo job_info(const Plan& plan, int index, const Graph* graph = nullptr);
JobEnd job_end(const JobOutcome& outcome);
// Every node of the graph with its planned job.
std::vector<NodeInfo> node_infos(const Plan& plan, const Graph& graph);

class Workspace {
 public:
  // `options` is read at every call (a host may change jobs or targets between plans);
  // the source, runner and loop outlive the workspace.
  Workspace(const Options& options, PipelineSource& source, HookRunner& runner, uv_loop_s* loop);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Where the state is: a SQLite file or a PostgreSQL URL, and the workspace within it.
  const std::string& state_path() const { return state_path_; }
  const std::string& name() const { return workspace_; }
  void set_state_path(const std::string& path);
  // Before a pipeline file runs: the state beside it, unless the options name one; its
  // rows start being read on a thread (Options::read_state_ahead).
  void pipeline_at(const std::string& source);
  // After it ran: its `ochre.settings` (state relative to the pipeline), where the
  // options say nothing.
  void adopt_settings(const std::string& state, const std::string& workspace);

  // The store, opened once (read-only unless `write`).
  StateStore& state(bool write);
  // Takes the lock (waiting up to Options::lock_timeout), once.
  void lock();
  void unlock();
  void close_state();
  // Where instances' own files live (self:path): beside a SQLite state, or beside the
  // pipeline for a PostgreSQL one.
  std::string files_root() const;

  // Plans the pipeline (or its destruction: everything it applied, or `keys` and what
  // depends on them). Writes nothing.
  void plan(bool destroy, const std::vector<std::string>& keys = {});
  bool planned() const { return plan_.has_value(); }
  const Plan& current_plan() const;
  const Graph* graph() const { return graph_ ? &*graph_ : nullptr; }
  bool destroying() const { return destroying_; }

  // Applying: the whole plan, or one job at a time (the REPL).
  RunResult apply(const Callbacks& callbacks);
  void begin_apply(const Callbacks& callbacks);
  bool applying() const { return run_ != nullptr; }
  std::vector<int> ready_jobs() const;
  JobEnd step(int index);
  void skip(int index);
  RunResult continue_apply();
  RunResult end_apply();

  // The state without a pipeline.
  std::vector<StoredInstance> stored();
  std::string state_list(bool json);
  std::string state_show(const std::string& key, bool json);
  std::string log(int limit, bool json);
  std::string history(const std::string& key, bool json);
  void state_rm(const std::string& key);
  void state_mv(const std::string& from, const std::string& to);
  // `ochre import`: `key`, declared in the pipeline and not in the state, stored as
  // applied with what its read hook saw (its fields as read, what read returned as its
  // outputs), in a run of its own; no create runs. Plans first (read hooks run).
  void import_instance(const std::string& key);
  // The sensitive fields of the pipeline's types and of what the state recorded.
  Sensitive sensitive();

 private:
  struct ReadAhead;
  void start_read_ahead();
  std::unique_ptr<ReadAhead> take_read_ahead();
  void drop_graph();
  std::vector<Endpoint> endpoints();
  std::unique_ptr<Delivery> open_delivery();
  void start_notifications(std::vector<Endpoint> endpoints, const char* command);
  void finish_notifications();
  void deliver_leftovers();
  void record_breaks();
  void record_protect();
  RunResult nothing_done() const;

  const Options& options_;
  PipelineSource& source_;
  HookRunner& runner_;
  uv_loop_s* loop_;
  std::string state_path_, workspace_;

  std::unique_ptr<StateStore> state_;
  bool state_writable_ = false;
  std::unique_ptr<StateLock> lock_;
  std::unique_ptr<ReadAhead> ahead_;

  std::optional<Graph> graph_;
  std::optional<Plan> plan_;
  bool planned_locked_ = false;  // the plan was made while this workspace held the lock
  bool destroying_ = false;
  bool destroy_all_ = false;  // a destroy of the whole pipeline (no keys)
  std::vector<std::string> destroy_keys_;
  bool undelivered_ = false;  // the outbox held notifications when the state was planned against
  bool dead_run_ = false;     // the state read holds a run left "running" (run_left_running)
  // Hashes sensitive values in plans of a state without a key; given to it when written.
  std::string own_key_;
  const std::string& own_hash_key();

  // The apply under way. The delivery is declared after the run so it stops first (what
  // it did not send stays in the outbox for the next apply).
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<ApplyRun> run_;
  std::unique_ptr<Delivery> delivery_;
  struct Left {
    int count = 0;
    std::string error;
  } left_;  // what the last apply left undelivered
  std::vector<std::string> roots_;
  Callbacks callbacks_;
  std::unordered_map<int, JobInfo> started_infos_;  // of the jobs running, by index
};

}  // namespace ochre
