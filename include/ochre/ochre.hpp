// ochre's public C++ API: load a pipeline, plan it, apply it, destroy it. (A state read
// or copied without a pipeline: ochre/state.hpp, included below.) No Lua or SQLite types
// here. An Engine owns its Lua state and its state store; several engines in one process
// are independent. Errors are ochre::Error.
//
// Ownership and threads, for every call below unless it says otherwise:
// - Everything returned is a copy the caller owns (strings, vectors, views); nothing
//   points into the engine, so it stays valid after the next plan or the engine's end.
// - An Engine is used from one thread at a time (the thread that calls it; calls from
//   two threads at once must be serialized by the host). Two engines on two threads are
//   independent, also on the same state, where the state's lock orders them.
// - Callbacks (Options::output, Options::job_output, Callbacks) are called on the thread
//   that called the engine, from within that call (apply, step, load_file, ...). Their
//   arguments live only until the callback returns: copy what you keep. A callback must
//   not call back into the same engine.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ochre/errors.hpp"
#include "ochre/state.hpp"
#include "ochre/value.hpp"

struct lua_State;

namespace ochre {

// A webhook that gets notifications (see README, "Notifications"): each delivery is a
// JSON body signed with HMAC-SHA256 of `secret` in the X-Ochre-Signature header.
struct Webhook {
  std::string url;                  // http:// or https://
  std::string secret;               // required, never shown
  std::vector<std::string> events;  // "run.started", ...; empty: every event
};
// "" when ochre can post to `url` (http:// or https://, a host, no user or password),
// else what is wrong with it.
std::string webhook_url_problem(std::string_view url);

struct Options {
  // The state: a SQLite file, or a PostgreSQL URL (postgres://user@host:port/db). Empty:
  // the pipeline's `state` setting, else ".ochre/state.db" beside the pipeline file (or
  // the current directory for a pipeline loaded from a string). ":memory:": a state in
  // memory that lives as long as the engine.
  std::string state_path;
  // The workspace within the state (empty: the pipeline's setting, else "default").
  std::string workspace;
  // Output printed outside any job, e.g. while the pipeline loads (default: stdout).
  std::function<void(std::string_view text)> output;
  // Each whole line a job prints or its commands write (default: "[key] line" on stdout).
  std::function<void(const std::string& key, std::string_view line)> job_output;
  int jobs = 0;              // jobs at once; 0: the default (see default_jobs())
  bool fail_fast = false;    // stop starting jobs after the first failure
  double lock_timeout = 0;   // seconds to wait for another ochre's lock
  // Seconds any hook may take (0: no limit); an instance's lifecycle timeout overrides
  // it. A hook past it is stopped (its commands killed) and its job fails.
  double timeout = 0;
  // A program that serves "PROG __spawn-server PARENT_PID": the fork server hook commands
  // start from, which kills them when its parent dies (the ochre binary and ochre-spawn
  // do). Empty: commands run under /bin/sh directly.
  std::string spawn_helper;
  // Where ochre.sh runs commands unless a call says: "local" or "slurm" (a batch job
  // on a Slurm cluster, docs/cluster.md). Empty: the pipeline's ochre.settings
  // { executor = ... }, else local.
  std::string executor;
  std::vector<std::string> targets;  // plan only these keys and what they depend on
  std::vector<std::string> replace;  // force a replace of these keys
  std::vector<std::string> excludes;  // leave out these keys and what depends on them (--exclude)
  // Webhooks notified of every apply, on top of those the pipeline declares with
  // ochre.notify. Events are written to the state's outbox with what they report and
  // sent while the apply runs; at its end the apply waits up to `notify_timeout` seconds
  // for those not delivered yet, and leaves the rest for the next apply.
  std::vector<Webhook> notify;
  double notify_timeout = 5;
  // Read the state on a second thread while the pipeline file runs, for the next plan
  // to use if nothing was committed to the state in between (SQLite states).
  bool read_state_ahead = false;
  // The engine's own Lua state takes its memory from malloc rather than from LuaJIT's
  // allocator: for a host whose malloc is the faster (the ochre program links jemalloc,
  // backed by transparent huge pages). No effect on a host's lua_State.
  bool lua_uses_malloc = false;
  // While the pipeline file runs, Lua's collector waits until the file has grown Lua's
  // memory by this many bytes, then runs as usual: what a pipeline builds lives on, and
  // tracing it as it grows is wasted (a quarter of a million-component load). 0: the
  // collector runs throughout. No effect on a host's lua_State.
  size_t load_headroom = size_t{1} << 30;
  // The REPL: the top-level locals of the pipeline file, as they were when it returned,
  // are kept for eval() to read (and assign) by name. Costs a return hook while it loads.
  bool keep_locals = false;
};

// An instance as a native hook sees it.
struct Instance {
  std::string type, identifier, key;
  Fields fields;   // sorted by name, "identifier" included; a sub-component is a Ref (its key)
  Value outputs;   // what the last create/update returned (a map; empty when none)
  std::map<std::string, Value> dep_outputs;  // outputs of the sub-components, by key
  // The field's value, or nullptr.
  const Value* field(std::string_view name) const { return find_field(fields, name); }
};

// A component type whose hooks are C++ callables, registered by a host with
// Engine::define_type and used from Lua as `ochre.<Name> "id" { ... }`. A hook that
// throws std::exception fails its job with the exception's message.
struct NativeType {
  std::string name;
  std::vector<std::pair<std::string, Value>> fields;  // defaults
  std::vector<std::string> required;                   // fields with no default
  std::vector<std::string> breaks;                     // a change here replaces
  std::vector<std::string> sensitive;                  // values never shown (plans, state, ...)
  std::function<Value(const Instance& self)> create;   // returns outputs (a map, or nil)
  std::function<Value(const Instance& self, const Instance& old)> update;  // nil: keep outputs
  std::function<void(const Instance& self)> remove;    // the delete hook; self is the stored version
  std::function<void(Instance& self)> read;            // may change self.fields before hashing
};

// The default number of jobs at once: twice the cores, at least 4 (jobs mostly wait).
int default_jobs();

// Why a job is planned.
enum class JobReason {
  New,       // not in the state: create
  Changed,   // a non-breaking field changed: update
  Breaking,  // a breaking field changed: replace
  Forced,    // --replace asked for it
  Retry,     // the last attempt failed or was interrupted
  Pending,   // the last attempt answered ochre.pending: called again
  Removed,   // in the state, no longer in the pipeline: delete
  Destroy,   // a destroy
};

// One planned job.
struct JobInfo {
  int index = 0;
  std::string action;   // "create", "update", "delete"
  std::string key;      // "Type/identifier"
  std::string type, identifier;
  std::string uuid;
  std::string details;  // "Type/identifier/uuid.method"
  JobReason why = JobReason::New;
  std::string reason;   // the same, for people: "changed: label", "retry: the last create failed"
  bool replace = false;  // half of a replace (delete + create)
  std::vector<int> deps;
  // Decided once the jobs of these sub-components end: read and hashed again then, it
  // may turn out unchanged (outcome "cutoff"), an update or a replace.
  bool deferred = false;
  std::vector<std::string> waits_for;
};

// A field a planned create or update changes, as `ochre explain` shows it. The values
// of sensitive fields are the string "(sensitive)".
struct ChangeInfo {
  std::string field;
  bool had_before = false, has_after = false;  // false: the field was (will be) absent
  Value before, after;
  bool breaking = false;  // a breaking field: the instance is replaced
  std::string via;        // a sub-component that changed while the reference stayed the same
};

// One instance of the planned graph.
struct NodeInfo {
  std::string key, type, identifier, uuid, hash;
  std::string site;               // file:line of its declaration
  std::vector<std::string> deps;  // keys of its sub-components
  std::string action;             // its planned job: "create", "update", "replace", or "none"
  std::string reason;             // why, as in JobInfo::reason ("" for none)
  std::vector<ChangeInfo> changes;  // what its update or replace changes (else empty)
  Fields inputs;                  // its fields as planned, sensitive values "(sensitive)"
};

struct JobEnd {
  std::string outcome;  // "done", "failed", "pending", "skipped"
  std::string error;    // message (with traceback for a failed hook)
  std::string output;   // what the job printed
};

struct Callbacks {
  std::function<void(const JobInfo&)> started;
  std::function<void(const JobInfo&, const JobEnd&)> finished;
  std::function<void(int signals)> interrupted;  // Ctrl-C: 1 stops starting jobs, 2 kills
  std::function<void()> tick;                     // about every 100 ms while jobs run
};

struct RunResult {
  int done = 0, failed = 0, skipped = 0, pending = 0, waiting = 0, interrupted = 0;
  // Jobs decided after their sub-components' jobs that needed no hook: unchanged, or
  // changed only through `cutoff` sub-components whose outputs came out the same.
  int cutoff = 0;
  bool nothing_to_do = false;
  std::string summary;
  // Notifications left undelivered in the outbox when the apply ended (the next apply
  // sends them), and why the oldest of them failed ("http://host:port: cannot connect").
  int undelivered = 0;
  std::string notify_error;
  // 0 when every job finished (or is pending), 1 when one failed, was skipped or interrupted.
  int exit_code() const { return failed || skipped || interrupted ? 1 : 0; }
};

class Engine {
 public:
  explicit Engine(Options options = {});
  // An engine on the host's own LuaJIT state (not closed by the engine). ochre's module
  // becomes require-able there ("ochre"); `print` keeps working as before outside hooks.
  Engine(lua_State* host, Options options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Registers a native component type; call before loading the pipeline that uses it.
  void define_type(NativeType type);

  // Runs a pipeline file; what it returns (an instance or a list) becomes the roots.
  void load_file(const std::string& path);
  // The same for source text; `name` appears in messages as the file name.
  void load_string(std::string_view code, const std::string& name = "pipeline");

  // Takes the state's lock, waiting up to Options::lock_timeout; throws Code::Locked
  // naming the holder. apply() takes it too when it is not held yet.
  void lock();
  // Closes the state (and the delivery of notifications) and releases the lock, and
  // stops the helper that runs hook commands if none runs; a later call opens the state
  // again. Lets a program exit without the engine's destructor.
  void close_state();

  // Runs the read hooks, hashes the graph and plans against the state. Writes nothing.
  void plan();
  // Plans the deletion of everything the pipeline applied (or of `keys` and whatever
  // depends on them).
  void plan_destroy(const std::vector<std::string>& keys = {});

  std::vector<JobInfo> jobs() const;
  // Every instance of the planned graph, sub-components before what uses them.
  std::vector<NodeInfo> nodes() const;
  int job_count() const;           // jobs().size(), without making them
  // The plan's ochre.moved and ochre.removed change the state (a run writes them, even
  // with no job to run).
  bool plan_edits_state() const;
  JobInfo job(int index) const;    // jobs()[index], alone
  std::string plan_table() const;  // the original's table, or "No changes needed – ..."
  // The same table given to `write` in pieces: a long plan is never held as one string.
  void plan_table(const std::function<void(std::string_view)>& write) const;
  // What the plan changes, for under the table: each job's key and reason ("+ Type/id
  // (new)", "~", "-/+" for a replace, "-"), the fields an update or replace changes
  // ("  ~ port: 8080 -> 9090", "[breaking]" marked, long and multi-line values as a short
  // diff), then "Plan: N to create, N to update, N to replace, N to delete." Nothing when
  // there is nothing to do. Given to `write` in pieces.
  void plan_changes(const std::function<void(std::string_view)>& write) const;
  std::string plan_json() const;   // every job and every node with ids and inputs
  std::string explain(const std::string& key) const;

  // Runs the planned jobs, recording each outcome in the state as it ends.
  RunResult apply(const Callbacks& callbacks = {});

  // The same apply taken one job at a time (the REPL): begin_apply() takes the lock and
  // opens the run; step() runs one ready job to its end, recorded exactly as apply()
  // would; end_apply() closes the run (jobs never run are planned again next time).
  void begin_apply(const Callbacks& callbacks = {});
  bool applying() const;
  std::vector<int> ready_jobs() const;
  JobEnd step(int index);
  void skip(int index);
  RunResult continue_apply();  // runs every job left, then ends the run
  RunResult end_apply();

  // `ochre test`: runs the pipeline's ochre.test functions and the `test` methods of its
  // instances (after an apply). Each result: name, passed, message.
  struct TestResult {
    std::string name;
    bool passed = false;
    std::string message;
  };
  std::vector<TestResult> run_tests();
  // `ochre enter`: calls METHOD (default "enter") of the applied instance KEY, with the
  // terminal. Throws Error (UnknownKey, NotNow) or, for a failing method, HookFailed.
  void enter(const std::string& key, const std::string& method = "enter");
  // The files and folders the planned instances watch (their `path` fields), the
  // pipeline file itself and the files it read while it loaded: what `ochre watch`
  // listens to.
  std::vector<std::string> watch_paths() const;

  // Lua typed at a REPL, run in the pipeline's Lua state: an expression or statements.
  // Returns the results pretty-printed (instances as Type/identifier/uuid). Sets
  // `incomplete` when more lines are needed. Throws Error on Lua errors.
  // The globals `ochre` (the module), `types` (component types by name) and, once
  // planned, `instances` (the planned instances by key) are set for it; with
  // Options::keep_locals the pipeline file's top-level locals are in scope too.
  std::string eval(const std::string& code, bool& incomplete);
  // Stops the Lua code eval() runs at its next call, return or few hundred instructions,
  // with Error "interrupted" (a loop the JIT compiled that calls nothing runs on). Safe
  // to call from a signal handler, as Lua's own REPL does on Ctrl-C.
  void interrupt();
  // The keys of the planned graph (for completion).
  std::vector<std::string> keys() const;

  const std::string& state_path() const;
  // Points the engine at another state (before it is opened for a plan).
  void set_state_path(const std::string& path);
  // The workspace within the state (the options', the pipeline's setting, or "default").
  const std::string& workspace() const;

  // The planned graph as "dot" or "mermaid", nodes marked with their planned action.
  std::string graph(const std::string& format) const;

  // Everything stored: key -> the instance as stored (fields, outputs). Read-only.
  std::vector<Instance> stored() const;

  // The state, without a pipeline: the file is Options::state_path, or the pipeline's
  // when one was loaded, or ".ochre/state.db". Text for people, or JSON. (A reader that
  // never takes the lock: StateReader, ochre/state.hpp.)
  std::string state_list(bool json);
  std::string state_show(const std::string& key, bool json);
  std::string log(int limit, bool json);        // runs, newest first, with their jobs
  std::string history(const std::string& key, bool json);  // every stored version
  // Forgets KEY without deleting it in the world.
  void state_rm(const std::string& key);
  // Renames FROM to TO (same type) without re-creating it; ids are recomputed so that a
  // pipeline renamed the same way plans nothing.
  void state_mv(const std::string& from, const std::string& to);
  // `ochre import`: after load_file, adopts KEY, declared in the pipeline and not in the
  // state, as it exists: its read hook runs and it is stored as applied with its fields
  // as read and what read returned as its outputs; no create runs. A type without read,
  // a KEY not declared or already stored is a user error, and nothing is written.
  void import_instance(const std::string& key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend struct LuaModule;  // luaopen_ochre (bindings/lua_module.cpp) reaches the Lua side
};

}  // namespace ochre
