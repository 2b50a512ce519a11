// The workspace: one state, its lock, planning and applying (see workspace.hpp). Just
// over 600 lines: moves, protect and import joined planning and applying here because
// they happen under the same lock and in the same transactions.
#include "engine/workspace.hpp"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <thread>

#include "engine/delivery.hpp"
#include "engine/hash.hpp"
#include "engine/inspect.hpp"
#include "engine/lifecycle_plan.hpp"
#include "engine/timing.hpp"

namespace ochre {

namespace {

// Whether the journal holds a run left "running". Under the lock it is a dead ochre's:
// an apply records it as interrupted. (Each apply recovers all of them, so it is among
// the newest.)
bool run_left_running(StateStore& st) {
  for (const RunRecord& r : st.runs(8))
    if (r.outcome == "running") return true;
  return false;
}

}  // namespace

// The state read on a thread of its own while the pipeline file runs, used by the next
// plan if nothing was committed to the state in between.
struct Workspace::ReadAhead {
  std::string path, workspace;
  std::unique_ptr<StateStore> store;
  std::optional<std::string> token;  // the store's change token before the rows were read
  std::vector<StoredInstance> stored;
  std::vector<std::pair<std::string, std::string>> roots;
  KeyIndex index;
  bool undelivered = false, dead_run = false;
  std::string hash_key;
  bool complete = false;  // everything read (an error leaves the reading to plan())
  std::thread thread;

  ReadAhead(std::string p, std::string ws) : path(std::move(p)), workspace(std::move(ws)) {
    thread = std::thread([this] {
      try {
        store = open_state(path, workspace, OpenMode::ReadOnly);
        token = store->change_token();
        if (!token) return;
        stored = store->load();
        roots = store->roots();
        undelivered = !store->outbox_due(LLONG_MAX, 1).empty();
        dead_run = run_left_running(*store);
        hash_key = store->hash_key();
        index = index_stored(stored);
        complete = true;
      } catch (const std::exception&) {
      }
    });
  }
  ~ReadAhead() {
    if (thread.joinable()) thread.join();
  }
  // Waits for the read; true if it read everything and nothing was committed since.
  bool usable() {
    if (thread.joinable()) thread.join();
    return complete && store->change_token() == token;
  }
};

JobInfo job_info(const Plan& plan, int i, const Graph* graph) {
  const Job& j = plan.jobs[i];
  JobInfo info;
  info.index = i;
  info.action = action_name(j.action);
  info.key = j.key;
  info.type = j.type;
  info.identifier = j.identifier;
  info.uuid = j.uuid;
  info.details = j.details();
  info.why = static_cast<JobReason>(j.why);
  info.reason = j.reason;
  info.replace = j.replace;
  info.deps = j.deps;
  info.deferred = j.deferred;
  if (graph)
    for (int d : j.waits_for) info.waits_for.push_back(graph->node(d).key);
  return info;
}

std::vector<NodeInfo> node_infos(const Plan& plan, const Graph& graph) {
  const std::vector<int> job_of = node_jobs(plan, graph);
  // What is never shown: what the types declare, and what the state recorded (as for
  // `ochre plan --json`).
  Sensitive sensitive;
  auto add_sensitive = [&sensitive](const std::string& type, const std::vector<std::string>& fields) {
    if (fields.empty()) return;
    auto& names = sensitive[type];
    for (const auto& f : fields)
      if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
  };
  for (const StoredInstance& st : plan.stored) add_sensitive(st.type, st.sensitive);
  for (const Node& node : graph.nodes()) add_sensitive(node.type, node.sensitive);
  const Value hidden = Value::of_string(sensitive_text);
  std::vector<NodeInfo> out;
  out.reserve(graph.size());
  for (int n = 0; n < static_cast<int>(graph.size()); ++n) {
    const Node& node = graph.node(n);
    NodeInfo info;
    info.key = node.key;
    info.type = node.type;
    info.identifier = node.identifier;
    info.uuid = node.uuid;
    info.hash = node.hash;
    info.site = node.site;
    for (int d : node.deps) info.deps.push_back(graph.node(d).key);
    const Job* job = nullptr;
    info.action = node_action(plan, job_of, n, &job);
    if (job) {
      const Job& j = *job;
      info.reason = j.reason;
      for (const FieldChange& c : j.changes) {
        bool masked = is_sensitive(sensitive, node.type, c.field);
        info.changes.push_back({c.field, c.had_before, c.has_after, masked ? hidden : c.before,
                                masked ? hidden : c.after, c.breaking, c.via});
      }
    }
    info.inputs = mask_fields(node.fields, sensitive, node.type);
    out.push_back(std::move(info));
  }
  return out;
}

JobEnd job_end(const JobOutcome& o) {
  JobEnd end;
  end.outcome = outcome_name(o.kind);
  end.error = o.error;
  end.output = o.output;
  return end;
}

Workspace::Workspace(const Options& options, PipelineSource& source, HookRunner& runner, uv_loop_s* loop)
    : options_(options), source_(source), runner_(runner), loop_(loop), state_path_(options.state_path),
      workspace_(options.workspace.empty() ? default_workspace : options.workspace) {}

Workspace::~Workspace() {
  ahead_.reset();
  // A run an error stopped (the disk full, the state gone) is closed if the state still
  // takes writes. A destructor must not throw: what it could not record, the next run
  // finds as interrupted and retries.
  if (run_) {
    callbacks_ = {};  // the host's callbacks may be gone already (a stack unwinding)
    try {
      run_->end();
    } catch (const std::exception&) {
    }
  }
  run_.reset();
  delivery_.reset();
  drop_graph();
}

void Workspace::drop_graph() {
  if (graph_) source_.release_graph(*graph_);
  graph_.reset();
}

// ---- where the state is -------------------------------------------------------------

void Workspace::set_state_path(const std::string& path) {
  if (path == state_path_) return;
  state_path_ = path;
  state_.reset();
  unlock();
}

void Workspace::pipeline_at(const std::string& source) {
  if (options_.state_path.empty())
    state_path_ = (std::filesystem::path(source).parent_path() / ".ochre" / "state.db").string();
  if (options_.read_state_ahead) start_read_ahead();
}

void Workspace::adopt_settings(const std::string& state, const std::string& ws) {
  if (!state.empty() && options_.state_path.empty()) {
    // A file named relative to the pipeline, like the default state.
    std::string path = state;
    const std::string& src = source_.source();
    if (!is_postgres_location(path) && path != ":memory:" && !std::filesystem::path(path).is_absolute() &&
        std::filesystem::path(src).is_absolute())
      path = (std::filesystem::path(src).parent_path() / path).lexically_normal().string();
    set_state_path(path);
  }
  if (!ws.empty() && options_.workspace.empty() && workspace_ != ws) {
    workspace_ = ws;
    state_.reset();
    unlock();
  }
}

void Workspace::start_read_ahead() {
  ahead_.reset();
  if (state_path_.empty() || state_path_ == ":memory:" || is_postgres_location(state_path_)) return;
  ahead_ = std::make_unique<ReadAhead>(state_path_, workspace_);
}

std::unique_ptr<Workspace::ReadAhead> Workspace::take_read_ahead() {
  if (!ahead_ || ahead_->path != state_path_ || ahead_->workspace != workspace_) return nullptr;
  return std::move(ahead_);
}

const std::string& Workspace::own_hash_key() {
  if (own_key_.empty()) own_key_ = new_hash_key();
  return own_key_;
}

StateStore& Workspace::state(bool write) {
  if (state_path_.empty()) state_path_ = ".ochre/state.db";
  if (state_path_ == ":memory:") {  // one store for the engine's whole life
    if (!state_) {
      state_ = open_state(state_path_, workspace_, OpenMode::ReadWrite);
      state_->adopt_hash_key(own_hash_key());
    }
    state_writable_ = true;
    return *state_;
  }
  // A read-only view is opened afresh each time: the file may have appeared or changed.
  if (!state_ || !state_writable_) {
    state_.reset();
    state_ = open_state(state_path_, workspace_, write ? OpenMode::ReadWrite : OpenMode::ReadOnly);
    state_writable_ = write;
    // The key this process planned with, if the state had none (under the lock: nobody
    // else gave it one since).
    if (write) state_->adopt_hash_key(own_hash_key());
  }
  return *state_;
}

void Workspace::lock() {
  if (lock_) return;
  if (state_path_.empty()) state_path_ = ".ochre/state.db";
  if (state_path_ == ":memory:") {
    planned_locked_ = true;  // nobody else can see an in-memory state
    return;
  }
  lock_ = lock_state(state_path_, workspace_, options_.lock_timeout);
}

void Workspace::unlock() {
  lock_.reset();
  // What was planned under the lock may be stale once it is let go (an apply ran it, or
  // another ochre may write now): an apply plans again under the lock.
  planned_locked_ = false;
}

void Workspace::close_state() {
  if (run_) fail(Msg::ApplyUnderWay, {});
  delivery_.reset();
  ahead_.reset();
  if (state_path_ != ":memory:") state_.reset();  // a state in memory lives with the engine
  unlock();
}

std::string Workspace::files_root() const {
  std::string suffix = workspace_ == default_workspace ? "" : "." + workspace_;
  if (!is_postgres_location(state_path_))
    return (std::filesystem::path(state_path_).parent_path() / ("files" + suffix)).string();
  // The files of a shared state stay beside the pipeline, on the machine that runs it.
  const std::string& src = source_.source();
  std::filesystem::path dir = std::filesystem::path(src).is_absolute() ? std::filesystem::path(src).parent_path()
                                                                       : std::filesystem::current_path();
  return (dir / ".ochre" / ("files" + suffix)).string();
}

// ---- planning -----------------------------------------------------------------------

const Plan& Workspace::current_plan() const {
  if (!plan_) fail(Msg::NoPlanYet, {});
  return *plan_;
}

void Workspace::plan(bool destroy, const std::vector<std::string>& keys) {
  if (!source_.has_roots()) fail(Msg::ReturnedNothing, {}, source_.name());
  enter_phase("reading the state and hashing the pipeline");
  PhaseTimer timer;
  std::vector<StoredInstance> stored;
  std::vector<std::pair<std::string, std::string>> roots;
  KeyIndex stored_index;
  std::string hash_key;
  // A read of the state under way on its thread is waited for only once the walk of
  // the instances needs it (see PipelineSource::build_graph).
  std::unique_ptr<ReadAhead> ahead = take_read_ahead();
  const std::vector<Moved> moved = source_.moved();
  const std::vector<Removed> removed = source_.removed();
  StateEdits edits;
  auto read_state = [&] {
    if (ahead && ahead->usable()) {
      stored = std::move(ahead->stored);
      roots = std::move(ahead->roots);
      undelivered_ = ahead->undelivered;
      dead_run_ = ahead->dead_run;
      stored_index = std::move(ahead->index);
      hash_key = std::move(ahead->hash_key);
    } else {
      StateStore& st = state(false);
      stored = st.load();
      roots = st.roots();
      undelivered_ = !st.outbox_due(LLONG_MAX, 1).empty();
      dead_run_ = run_left_running(st);
      stored_index = index_stored(stored);
      hash_key = st.hash_key();
    }
    ahead.reset();
    // A state without a key yet (new, or from before keys) gets this process's own, the
    // one state(true) gives it when it first writes.
    if (hash_key.empty()) hash_key = own_hash_key();
    // The pipeline's moves and removals, as the state will be once a run wrote them.
    edits = edit_stored(moved, removed, stored, roots, hash_key);
    if (!edits.empty()) stored_index = index_stored(stored);
  };
  drop_graph();
  plan_.reset();
  if (ahead) {
    graph_ = source_.build_graph(stored, stored_index, hash_key, read_state);
  } else {
    read_state();
    timer.mark("state load");
    graph_ = source_.build_graph(stored, stored_index, hash_key, nullptr);
  }
  timer.mark("graph+hash");
  PlanOptions po;
  po.destroy = destroy;
  po.destroy_keys = keys;
  for (auto& [src, key] : roots)
    if (src != source_.source()) po.protecting_roots.push_back(std::move(key));
  po.type_defined = [this](const std::string& type) { return source_.type_defined(type); };
  po.targets = options_.targets;
  po.replace = options_.replace;
  po.excludes = options_.excludes;
  destroying_ = destroy;
  destroy_all_ = destroy && keys.empty();
  destroy_keys_ = keys;
  // A removal names an instance the pipeline no longer declares.
  for (const Removed& r : removed)
    if (graph_->find(r.key) >= 0) fail(Msg::RemovedDeclared, {r.key, graph_->node(graph_->find(r.key)).site}, r.site);
  enter_phase("planning");
  plan_ = make_plan(*graph_, std::move(stored), po, std::move(stored_index));
  plan_->edits = std::move(edits);
  timer.mark("plan");
  enter_phase("after planning");
  planned_locked_ = lock_ != nullptr;
}

// Rows stored by an older ochre lack their type's breaking fields; an apply of the
// pipeline records them, even when it has no job to run, so `state mv` can work.
void Workspace::record_breaks() {
  if (destroying_) return;
  std::vector<std::pair<std::string, std::vector<std::string>>> missing;
  for (const StoredInstance& st : current_plan().stored) {
    int n = st.breaks_known ? -1 : graph_->find(st.key);
    if (n >= 0) missing.emplace_back(st.key, graph_->node(n).breaks);
  }
  if (missing.empty()) return;
  lock();
  StateStore& store = state(true);
  for (const auto& [key, breaks] : missing) store.set_breaks(key, breaks);
}

// The state keeps each applied instance's protect flag as its lifecycle now says, so a
// later plan that no longer declares it still knows (changing it runs no job).
void Workspace::record_protect() {
  if (destroying_) return;
  auto changes = protect_changes(current_plan(), *graph_);
  if (changes.empty()) return;
  lock();
  StateStore& store = state(true);
  store.begin_batch();
  for (const auto& [key, protect] : changes) store.set_protect(key, protect);
  store.commit_batch();
}

// ---- notifications ------------------------------------------------------------------

// The webhooks of an apply: the options' (--notify) and the pipeline's (ochre.notify).
std::vector<Endpoint> Workspace::endpoints() {
  std::vector<Endpoint> out;
  for (const Webhook& w : options_.notify) {
    std::string problem = check_webhook_url(w.url);
    if (!problem.empty()) fail(Msg::WebhookBad, {w.url, problem});
    if (w.secret.empty()) fail(Msg::WebhookNoSecret, {url_origin(w.url)});
    for (const auto& e : w.events)
      if (!is_notify_event(e)) fail(Msg::WebhookUnknownEvent, {url_origin(w.url), e});
    out.push_back({w.url, w.secret, w.events});
  }
  for (Endpoint& e : source_.webhooks()) out.push_back(std::move(e));
  return out;
}

// A delivery thread on its own connection to the state (one in memory is seen by this
// connection only: then it is borrowed, and deliveries go out at the apply's end).
std::unique_ptr<Delivery> Workspace::open_delivery() {
  if (state_path_ == ":memory:") return std::make_unique<Delivery>(state(true));
  return std::make_unique<Delivery>(open_state(state_path_, workspace_, OpenMode::ReadWrite));
}

// Before an apply: its webhooks, and the thread that sends their events and whatever an
// earlier apply left undelivered.
void Workspace::start_notifications(std::vector<Endpoint> endpoints, const char* command) {
  delivery_.reset();
  left_ = {};
  notifier_ = std::make_unique<Notifier>(std::move(endpoints), source_.source(), command);
  if (notifier_->empty() && !undelivered_) return;
  delivery_ = open_delivery();
}

// After an apply (the lock still held): waits up to the timeout for what is not sent.
void Workspace::finish_notifications() {
  notifier_.reset();
  if (!delivery_) return;
  Delivery::Left left = delivery_->finish(options_.notify_timeout);
  left_ = {left.count, left.error};
  delivery_.reset();
}

// An apply with nothing to do sends nothing of its own, only what earlier ones left.
void Workspace::deliver_leftovers() {
  left_ = {};
  if (!undelivered_) return;
  delivery_ = open_delivery();
  finish_notifications();
}

// ---- applying -----------------------------------------------------------------------

void Workspace::begin_apply(const Callbacks& callbacks) {
  if (run_) fail(Msg::ApplyAlreadyUnderWay, {});
  current_plan();
  if (!planned_locked_) {
    // Another ochre may have changed the state since this plan: plan again under the lock.
    lock();
    plan(destroying_, destroy_keys_);
  }
  const Plan& p = current_plan();
  enter_phase("applying the plan");
  refuse_protected(p, *graph_);
  if (!p.edits.empty()) {
    // The moves and removals first, in a transaction of their own: the rows the jobs
    // and record_protect write are those under the new names.
    lock();
    write_edits(state(true), p.edits);
  }
  record_protect();
  std::vector<Endpoint> hooks = endpoints();
  if (p.empty()) {
    // Nothing to run: no run is opened in the journal, nothing is notified. Old rows may
    // still learn their breaking fields; notifications an earlier run left go out. A
    // run killed after its last job was committed left nothing to plan: it is recorded
    // as interrupted now, with its run.failed.
    record_breaks();
    if (dead_run_) {
      lock();
      start_notifications(std::move(hooks), destroying_ ? "destroy" : "apply");
      recover_interrupted(state(true), notifier_.get(), source_.source());
      dead_run_ = false;
      finish_notifications();
    } else {
      deliver_leftovers();
    }
    unlock();
    return;
  }
  StateStore& st = state(true);
  start_notifications(std::move(hooks), destroying_ ? "destroy" : "apply");
  recover_interrupted(st, notifier_.get(), source_.source());
  callbacks_ = callbacks;
  started_infos_.clear();
  roots_.clear();
  for (int r : graph_->roots()) roots_.push_back(graph_->node(r).key);
  ApplyEvents events;
  // A job's JobInfo is made once, when it starts, and kept until it ends.
  events.started = [this](int i, const Job&) {
    if (!callbacks_.started && !callbacks_.finished) return;
    JobInfo info = job_info(*plan_, i);
    if (callbacks_.started) callbacks_.started(info);
    if (callbacks_.finished) started_infos_[i] = std::move(info);
  };
  events.finished = [this](int i, const Job&, const JobOutcome& o) {
    if (!callbacks_.finished) return;
    auto it = started_infos_.find(i);
    if (it == started_infos_.end()) {  // a job that never started: skipped
      callbacks_.finished(job_info(*plan_, i), job_end(o));
      return;
    }
    JobInfo info = std::move(it->second);
    started_infos_.erase(it);
    callbacks_.finished(info, job_end(o));
  };
  events.interrupted = callbacks.interrupted;
  events.tick = callbacks.tick;
  ApplyOptions opts;
  opts.jobs = options_.jobs > 0 ? options_.jobs : default_jobs();
  opts.fail_fast = options_.fail_fast;
  opts.timeout = options_.timeout;
  opts.loop = loop_;
  opts.roots = destroying_ ? nullptr : &roots_;
  opts.clear_roots = destroy_all_;
  opts.notifier = notifier_.get();
  RunInfo info{destroying_ ? "destroy" : "apply", source_.source()};
  run_ = std::make_unique<ApplyRun>(*plan_, *graph_, st, runner_, info, opts, events);
}

std::vector<int> Workspace::ready_jobs() const { return run_ ? run_->ready() : std::vector<int>{}; }

JobEnd Workspace::step(int index) {
  if (!run_) begin_apply({});
  if (!run_) fail(Msg::PlanEmpty, {});
  return job_end(run_->step(index));
}

void Workspace::skip(int index) {
  if (!run_) begin_apply({});
  if (!run_) fail(Msg::PlanEmpty, {});
  run_->skip(index);
}

RunResult Workspace::nothing_done() const {
  RunResult result;
  result.nothing_to_do = true;
  result.undelivered = left_.count;
  result.notify_error = left_.error;
  return result;
}

RunResult Workspace::continue_apply() {
  if (!run_) begin_apply({});
  if (!run_) return nothing_done();
  {
    // Run to its end: no code but the hooks' runs until it returns.
    struct Whole {
      HookRunner& r;
      ~Whole() { r.whole_run(false); }
    } whole{runner_};
    runner_.whole_run(true);
    run_->run_rest();
  }
  return end_apply();
}

RunResult Workspace::end_apply() {
  if (!run_) return {};
  ApplyReport report = run_->end();
  run_.reset();
  finish_notifications();
  unlock();
  RunResult result;
  result.done = report.done;
  result.failed = report.failed;
  result.skipped = report.skipped;
  result.pending = report.pending;
  result.waiting = report.waiting;
  result.interrupted = report.interrupted;
  result.cutoff = report.cutoff;
  result.summary = report.summary();
  result.undelivered = left_.count;
  result.notify_error = left_.error;
  return result;
}

RunResult Workspace::apply(const Callbacks& callbacks) {
  current_plan();
  begin_apply(callbacks);
  if (!run_) return nothing_done();
  record_breaks();
  return continue_apply();
}

// ---- the state without a pipeline ---------------------------------------------------

namespace {

StoredInstance find_stored(StateStore& st, const std::string& key) {
  for (auto& s : st.load())
    if (s.key == key) return s;
  fail(Msg::UnknownKeyInState, {key, st.location()});
}

}  // namespace

std::vector<StoredInstance> Workspace::stored() { return state(false).load(); }

Sensitive Workspace::sensitive() {
  Sensitive out = source_.sensitive();
  // What the state recorded: masks views made without the pipeline (state show).
  for (const auto& [type, fields] : state(false).recorded_sensitive())
    for (const auto& f : fields) {
      auto& names = out[type];
      if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
    }
  return out;
}

std::string Workspace::state_list(bool json) { return format_state_list(state(false).load(), json); }

std::string Workspace::state_show(const std::string& key, bool json) {
  return format_state_show(find_stored(state(false), key), json, sensitive());
}

std::string Workspace::log(int limit, bool json) { return format_log(state(false), limit, json); }

std::string Workspace::history(const std::string& key, bool json) {
  auto versions = state(false).versions(key);
  if (versions.empty()) find_stored(state(false), key);  // unknown: an error
  return format_history(versions, key, json, sensitive());
}

void Workspace::state_rm(const std::string& key) {
  find_stored(state(false), key);  // an unknown key writes nothing
  bool held = lock_ != nullptr;  // a host's own lock() stays taken
  lock();
  StateStore& st = state(true);
  find_stored(st, key);
  st.forget(key);
  if (!held) unlock();
}

void Workspace::import_instance(const std::string& key) {
  std::string type, identifier;
  if (!split_key(key, type, identifier)) fail(Msg::NotAKey, {key});
  lock();  // nobody else writes between what read saw and what is stored
  source_.keep_read_outputs(key);
  plan(false);
  int n = graph_->find(key);
  if (n < 0) fail(Msg::UnknownKeyInPipeline, {key});
  if (current_plan().find_stored(key)) fail(Msg::ImportStored, {key});
  const Node& node = graph_->node(n);
  if (!node.has_read) fail(Msg::ImportNoRead, {key, node.type}, node.site);
  JobOutcome outcome;
  outcome.outputs = source_.read_outputs();
  StoredInstance target = target_of(*graph_, n);
  // One run of one job, recorded as a create that needed no hook: the instance, its
  // version and the journal commit together (nothing half-imported).
  StateStore& st = state(true);
  st.begin_batch();
  long long run = st.begin_run({"import", source_.source()});
  st.job_done(run, 0, Action::Create, target, outcome);
  st.end_run(run, "done", message(Msg::ImportDone, {key}));
  st.commit_batch();
  unlock();
  drop_graph();
  plan_.reset();
}

void Workspace::state_mv(const std::string& from, const std::string& to) {
  plan_move(state(false).load(), from, to);  // a refused move writes nothing
  bool held = lock_ != nullptr;
  lock();
  StateStore& st = state(true);
  st.move(from, to, plan_move(st.load(), from, to, st.hash_key()));
  if (!held) unlock();
}

}  // namespace ochre
