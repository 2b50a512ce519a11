// The Lua host behind ochre::Engine: one Lua state with the DSL, one libuv loop, the
// loaded pipeline (a PipelineSource for the engine's Workspace). Hooks run as coroutines
// on the one Lua state; waiting calls (ochre.sh, ochre.sleep, ...) yield to the loop.
// Internal to the bindings.
#pragma once
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bindings/lua_state.hpp"
#include "bindings/watchdog.hpp"
#include "engine/apply.hpp"
#include "engine/slurm.hpp"
#include "engine/spawner.hpp"
#include "engine/workspace.hpp"
#include "ochre/ochre.hpp"

namespace ochre::lua {

struct TypeInfo {
  std::string name;
  std::vector<std::string> breaks;
  std::vector<std::string> field_names;
  int names_ref = LUA_NOREF;  // the same names as Lua strings (the type's field_names)
  std::vector<std::string> required;  // fields without a default
  std::vector<char> optional;         // by field_names index: ochre.optional (left out while nil)
  std::vector<std::string> sensitive; // fields never shown
  bool has_read = false;
  bool cutoff = false;  // dependents react to its outputs, not its fields
  bool cutoff_fn = false;  // T.cutoff(self) decides it for each instance
};

class Session;

// Something a coroutine waits on (a timer, a process, a file). Owned by the session
// until its libuv handles are closed.
class Wait {
 public:
  explicit Wait(Session& s) : session(s) {}
  virtual ~Wait() = default;
  // Pushes what the waiting call returns. [-0, +n, m]
  virtual int push_results(lua_State* L) = 0;
  // Stops waiting: kills processes, stops timers; results are never delivered.
  virtual void cancel() = 0;

  Session& session;
  struct JobContext* job = nullptr;  // null when the wait blocks the main thread
  bool finished = false;
  bool blocking = false;  // a native drives the loop until finished, then releases
  // Called once the wait has its result: resumes the coroutine or ends a blocking wait.
  void complete();
  // Closes the wait's handles; it deletes itself once they are closed.
  virtual void release() = 0;
  // The SlurmExecutor's handle of the cluster job it waits for, 0 for none.
  virtual uint64_t cluster_handle() const { return 0; }
  // Whether what it waits for runs elsewhere (on a cluster), not on this machine.
  virtual bool elsewhere() const { return false; }
};

// A hook running as a coroutine.
struct JobContext {
  std::string key;
  std::string label;  // "Type/id: create", for messages
  lua_State* co = nullptr;
  int thread_ref = LUA_NOREF;
  std::string captured;  // everything it printed (and its commands' output)
  std::string partial;   // an unfinished line of output
  bool raw = false;      // output goes straight to the terminal (ochre enter)
  Wait* waiting = nullptr;
  int cluster_calls = 0;  // cluster commands it ran so far (the next one's journal slot)
  int index = -1;        // the job's index in the plan (-1: not a job of an apply)
  double timeout = 0;    // seconds it may take (0: no limit), and until when (steady clock)
  double deadline = 0;
  // Turns the hook's return values (on co, from index 1) into the outcome.
  std::function<JobOutcome(lua_State* co, int nresults)> on_return;
  HookRunner::Done done;
};

class Session : public PipelineSource {
 public:
  // `options` outlives the session (the engine holds it).
  explicit Session(Options& options, lua_State* host = nullptr);
  ~Session() override;

  // Loading: runs the file or text and records its roots. `before_run` is called once
  // the file is known to exist, with its absolute path, before its chunk runs.
  void load_file(const std::string& path, const std::function<void(const std::string& source)>& before_run = {});
  void load_string(std::string_view code, const std::string& name);
  // Makes the instance or list of instances at `idx` the roots; throws BadReturn. [-0, +0, e]
  void set_roots(int idx);
  // The pipeline's ochre.settings { state = ..., workspace = ... } ("" where unset).
  std::pair<std::string, std::string> settings();
  // The files the pipeline read while it loaded (absolute paths, each once): its inputs
  // beside the pipeline file (ochre.fs.read, io.open for reading, io.lines, dofile,
  // loadfile, require of a module under the pipeline's folder).
  std::vector<std::string> inputs();

  // PipelineSource: the graph of the roots, and what the types say.
  const std::string& source() const override { return source_; }
  const std::string& name() const override { return pipeline_name_; }
  bool has_roots() const override { return has_roots_; }
  const std::vector<int>& roots() const { return root_refs_; }  // Lua references
  Graph build_graph(const std::vector<StoredInstance>& stored, const KeyIndex& index,
                    const std::string& hash_key, const std::function<void()>& read_state) override;
  void release_graph(const Graph& graph) override;
  bool type_defined(const std::string& type) override;
  Sensitive sensitive() override;
  std::vector<Endpoint> webhooks() override;
  std::vector<Moved> moved() override;
  std::vector<Removed> removed() override;
  void keep_read_outputs(const std::string& key) override {
    keep_read_of = key;
    kept_read = Value::map();
  }
  Value read_outputs() override { return kept_read; }
  // ochre import: the key whose read hook's returned table is kept (in kept_read).
  std::string keep_read_of;
  Value kept_read = Value::map();
  void set_source(std::string source) { source_ = std::move(source); }
  // Starts a new load of the pipeline (internal.load): a type declared again in it
  // replaces the earlier one (dsl.lua, M.component). A host's verb ends a load.
  void next_load();
  // The canonical encoding of node `n`'s fields as its instance holds them now (after
  // its read hook ran again). Throws Error(BadValue) for data that is not, or for a
  // sub-component that is not among the node's.
  std::string encode_fields(const Graph& graph, int n);

  // Evaluates Lua typed at the REPL: an expression (tried as `return <code>` first) or
  // statements. Returns the results pretty-printed, "" for none. Sets `incomplete` when
  // the chunk needs more lines; throws Error(LuaRuntime/LuaSyntax) on errors. `graph`
  // (may be null) names the planned instances' uuids for printing.
  std::string eval(const std::string& code, bool& incomplete, const Graph* graph);
  // After a plan: tells the Lua side each instance's uuid, for printing.
  void publish_uuids(const Graph& graph);
  void plan_changed() { uuids_published_ = false; }
  // Makes the Lua code eval() runs raise "interrupted" soon (lua_sethook, signal-safe).
  void interrupt();

  // Hook output: appended to the running job's capture and shown line by line.
  void write_output(lua_State* L, std::string_view text);
  // Where instances' own files live: given by the engine (the workspace knows).
  void set_files_root(std::function<std::string()> root) { files_root_ = std::move(root); }
  std::string files_root() const { return files_root_ ? files_root_() : std::string(".ochre/files"); }
  // The directory of an instance's own files (self:path), under the state's directory.
  std::string instance_dir(const std::string& key) const;
  // Whether the files root is known not to exist, so a deletion has no files to remove.
  // Known only between cache_files_root(true) and (false), around an apply run to its
  // end, and only until a hook runs: a hook may make files.
  bool files_root_absent();
  void cache_files_root(bool on) {
    files_cached_ = on;
    absent_at_ = ~0UL;
  }

  // Coroutines. `start_hook` expects the function and its `nargs` arguments on the main
  // stack (popped), runs it until it finishes or waits, and calls ctx->done at the end.
  void start_hook(std::unique_ptr<JobContext> ctx, int nargs);
  void resume(JobContext& ctx, int nargs);
  JobContext* context_of(lua_State* L);
  // Runs one hook to its end, driving the loop while it waits (read hooks).
  JobOutcome run_hook_blocking(const std::string& key, const std::string& label, int nargs,
                               std::function<JobOutcome(lua_State*, int)> on_return, bool raw = false);
  // Kills every running hook's waits; their coroutines are dropped.
  void abandon_all();
  // The same for the hook of job `index` (its time is up); false when none runs.
  bool stop_job(int index);
  // Watches hooks busy in Lua (timeouts, signals); made on first use.
  Watchdog& watchdog();
  // Drives the loop until `done()` holds (a waiting call outside a coroutine).
  void run_until(const std::function<bool()>& done);
  // Whether a hook is running (a waiting call then yields rather than blocks).
  bool in_hook() const { return resume_depth_ > 0; }

  lua_State* L() const { return lua_.get(); }
  uv_loop_t* loop() { return &loop_; }

  int module_ref = LUA_NOREF;
  int internal_ref = LUA_NOREF;
  // The private keys under which an instance keeps its record (see dsl.lua), read with
  // rawget: its type (internal.RECORD, which tells an instance), site, values, lifecycle.
  int record_key_ref = LUA_NOREF, site_key_ref = LUA_NOREF, values_key_ref = LUA_NOREF,
      lifecycle_key_ref = LUA_NOREF;

  Options& options;
  // Lua references to the instances of the graph: each node's handle, and here the other
  // instances with the same key and fields (aliases), whose outputs are kept current too.
  std::unordered_map<std::string, std::vector<int>> alias_refs;
  std::unordered_map<const void*, TypeInfo> types;                   // by type table
  std::unordered_set<Wait*> waits;                                   // alive waits
  std::unique_ptr<Spawner> spawner;  // runs ochre.sh's commands, from the first (with a helper)
  bool holding_commands = false;     // HookRunner::hold_commands
  // The Spawner of ochre.sh's commands (with a helper), made on first use, holding
  // commands while a run does.
  Spawner& command_spawner() {
    if (!spawner) {
      spawner = std::make_unique<Spawner>(loop(), options.spawn_helper);
      spawner->hold(holding_commands);
    }
    return *spawner;
  }
  std::vector<std::unique_ptr<NativeType>> native_types;             // hooks' upvalues point here
  // Where libuv reads a command's output, before it is appended to the wait's text: one
  // per session (each read is consumed before the loop reads again), so engines on other
  // threads never share it.
  std::vector<char> read_buffer = std::vector<char>(65536);
  bool borrowed = false;  // the Lua state is the host's
  // Cluster commands (bindings/cluster.cpp): the executor, made on first use, and the
  // state its submissions are journaled in while an apply runs (null: none).
  std::unique_ptr<SlurmExecutor> slurm;
  std::function<StateStore*()> journal;
  // Cancels the cluster jobs running hooks wait for, with one scancel; returns their
  // waits (still to release).
  std::vector<Wait*> cancel_cluster_waits();
  // --fail-fast: cancels them and ends their hooks' jobs as interrupted.
  void interrupt_cluster_jobs();
  const Redactor* redactor = nullptr;  // while an apply runs: masks hooks' output lines
  // Set by the engine that owns this session when Lua may call ochre.apply/plan/destroy
  // for real (a LuaJIT host that did require "ochre"). [-0, +1, e]
  std::function<int(lua_State* L, const char* verb)> lua_verb;

  // Pushes internal.<name> on the main state, or on thread `L`. [-0, +1, -]
  void push_internal(const char* name);
  void push_internal(lua_State* L, const char* name);
  const TypeInfo& type_info(int idx);
  // Pushes the type table named `type`, or nil. [-0, +1, -]
  void push_type(const std::string& type);
  void push_type(lua_State* L, const std::string& type);

 private:
  void run_chunk(const std::string& display_name, std::string_view text);
  // With the chunk at `idx`: a return hook keeps its top-level locals in internal.locals
  // as it returns; 0: the hook is removed. [-0, +0, -]
  void keep_locals(int idx);
  void set_loading(bool on);
  // `reusable`: the coroutine returned normally, so it can run the next hook.
  void finish(JobContext& ctx, JobOutcome outcome, bool reusable = false);
  void cluster_hook_ended(const JobContext& ctx);
  void emit_lines(JobContext& ctx, bool flush);

  uv_loop_t loop_;
  LuaState lua_;
  std::string source_;         // the pipeline's absolute path, or its name
  std::string pipeline_name_;  // the pipeline as the user named it, for messages
  std::vector<int> root_refs_;  // the instances the pipeline returned
  bool has_roots_ = false;
  bool uuids_published_ = false;
  bool repl_globals_ = false;  // eval() has set the globals ochre and types
  std::function<std::string()> files_root_;
  std::unordered_map<lua_State*, std::unique_ptr<JobContext>> contexts_;
  // Coroutines that returned normally, kept (with their registry refs) to run later
  // hooks: a hook that ends at once then costs no new thread and no garbage.
  std::vector<std::pair<lua_State*, int>> idle_threads_;
  unsigned long resumes_ = 0;       // hooks resumed so far
  unsigned long absent_at_ = ~0UL;  // resumes_ when the files root was found absent
  bool files_cached_ = false;
  int resume_depth_ = 0;  // > 0 while a hook runs
  std::unique_ptr<Watchdog> watchdog_;  // before lua_ is closed: declared after it
};

// "2", "0.5": seconds as messages show them.
std::string seconds_text(double seconds);

// Installs the `ochre` module (DSL + natives) into the session's Lua state.
void install_module(Session& session);
// Defines a native component type in the session's Lua state (ochre.<Name>).
void define_native_type(Session& session, NativeType type);
// Adds json, sha256 and fs natives to the table on the stack (the DSL's internal table).
void install_natives(Session& session, lua_State* L);
// Adds the waiting calls (ochre.sleep, ochre.sh, ...) to the module table on the stack.
void install_waits(Session& session, lua_State* L);

// Starts `w`: registers it with the running hook and yields, or blocks until done (the
// waiting calls of waits.cpp and cluster.cpp).
int wait_for(lua_State* L, Session& s, Wait* w);
// Whether an ochre.sh call with options at `opts` runs on Slurm; fills `spec` if so.
bool cluster_call(Session& s, lua_State* L, int opts, SlurmSpec& spec);
// Submits `cmd` (its key, slot and directory are filled here) and waits for it.
int start_cluster_command(Session& s, lua_State* L, ClusterCommand cmd, bool quiet);

// Runs hooks of jobs through Lua coroutines.
class LuaHookRunner : public HookRunner {
 public:
  explicit LuaHookRunner(Session& s) : s_(s) {}
  ~LuaHookRunner() override;
  LuaHookRunner(const LuaHookRunner&) = delete;
  LuaHookRunner& operator=(const LuaHookRunner&) = delete;
  void start(int index, const Job& job, const Plan& plan, const Graph& graph, Done done) override;
  void abandon_all() override { s_.abandon_all(); }
  void whole_run(bool starting) override;
  void run_over() override;
  void reread(int node, const Graph& graph, Reread done) override;
  void cancel_cluster_jobs() override { s_.interrupt_cluster_jobs(); }
  int waiting_elsewhere() const override;
  void limit(int index, double seconds) override { limit_ = {index, seconds, Watchdog::now() + seconds}; }
  void stop(int index) override { s_.stop_job(index); }
  void count_signals(bool on) override { s_.watchdog().count_signals(on); }
  void redact_with(const Redactor* r) override { s_.redactor = r; }
  void hold_commands(bool on) override;
  void commands_durable(bool hook_running) override {
    if (!spawner_) return;  // (not s_.spawner: another thread may call)
    if (!hook_running) spawner_->seal();
    spawner_->send_sealed();
  }
  void on_stuck(Stuck stuck) override {
    limit_ = {};  // a run begins or ends
    s_.watchdog().on_stuck(std::move(stuck));
  }

 private:
  struct Limit {
    int index = -1;
    double seconds = 0, deadline = 0;
  } limit_;  // the last job given a timeout (HookRunner::limit)
  // The stored versions hooks get as `old` (and `self` of delete), read lazily.
  struct Slot {
    LuaHookRunner* runner;  // null once the runner is gone
  };
  void push_stored(lua_State* L, const std::string& key);
  void fill_stored(lua_State* L, int values, const StoredInstance& st);
  static int l_fill_stored(lua_State* L);
  Session& s_;
  Spawner* spawner_ = nullptr;                     // s_.spawner while commands are held
  const Plan* plan_ = nullptr;                     // the run's, until run_over()
  double generation_ = 1;                          // changes with each run_over()
  int shells_ref_ = LUA_NOREF;                     // this generation's stored versions, by key (weak)
  int fill_mt_ref_ = LUA_NOREF;                    // the metatable of values not read yet
  Slot* slot_ = nullptr;                           // the upvalue of its __index
};

}  // namespace ochre::lua

namespace ochre {
// The Lua side of an Engine, for the module a LuaJIT host requires (lua_module.cpp).
struct LuaModule {
  static lua::Session& session(Engine& engine);
};
}  // namespace ochre
