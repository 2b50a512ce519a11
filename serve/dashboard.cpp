#include "serve/dashboard.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace ochre::cli {

using nlohmann::json;

namespace {

// Where the journal's newest run stands: it moves with every job started or ended.
struct Marker {
  long long run = 0;
  bool ended = false;
  size_t jobs = 0, ended_jobs = 0;
  bool operator==(const Marker&) const = default;
};

// How many runs back a component's last jobs are looked for.
constexpr int job_runs_scanned = 20;
constexpr size_t jobs_shown = 10;

json job_json(const JobEntry& j) {
  return {{"run", j.run},       {"seq", j.seq},         {"action", j.action}, {"uuid", j.uuid},
          {"started", j.started}, {"ended", j.ended}, {"outcome", j.outcome}, {"error", j.error},
          {"output", j.output}};
}

// A value as `ochre plan --json` writes it.
json value_json(const Value& v) { return json::parse(to_json(v)); }

json changes_json(const std::vector<ChangeInfo>& changes) {
  json out = json::array();
  for (const ChangeInfo& c : changes) {
    json change = {{"field", c.field},
                   {"before", c.had_before ? value_json(c.before) : json(nullptr)},
                   {"after", c.has_after ? value_json(c.after) : json(nullptr)},
                   {"breaking", c.breaking}};
    if (!c.via.empty()) change["via"] = c.via;
    out.push_back(std::move(change));
  }
  return out;
}

std::string event_name(std::string action) {
  for (char& c : action) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return action;  // "CREATE", as `ochre plan` shows it
}

}  // namespace

struct Dashboard::PlannedNode {
  std::string key, type, identifier, uuid, hash, action, reason;
  std::vector<std::string> deps;
  json planned;  // what the component's page shows as planned; null without a pipeline
};

struct Dashboard::Snapshot {
  std::unordered_map<std::string, StoredInfo> stored;  // by key
  std::optional<RunEntry> run;                        // the newest
  std::vector<JobEntry> jobs;                         // of the newest run
  Marker marker;
  size_t digest = 0;  // of every stored key, uuid, hash and status
  bool read = false;  // read at least once
};

struct Dashboard::PlanView {
  std::vector<PlannedNode> nodes;
  std::unordered_map<std::string, size_t> index;  // key -> nodes[i]
  json jobs = json::array();  // as `ochre plan --json` lists them
  std::string error;          // the last plan failed (the nodes are the plan before)

  void add(PlannedNode n) {
    index.emplace(n.key, nodes.size());
    nodes.push_back(std::move(n));
  }
};

Dashboard::Dashboard(std::string file, Options options, bool allow_apply)
    : file_(std::move(file)), options_(std::move(options)), allow_apply_(allow_apply),
      snap_(std::make_unique<Snapshot>()), plan_(std::make_unique<PlanView>()) {
  std::vector<JobInfo> jobs;
  std::vector<NodeInfo> nodes;
  if (file_.empty()) {
    state_location_ = options_.state_path.empty() ? ".ochre/state.db" : options_.state_path;
    workspace_ = options_.workspace.empty() ? default_workspace : options_.workspace;
  } else {
    // The first plan's errors are the user's (exit 2), as for `ochre plan`.
    Engine engine(options_);
    engine.load_file(file_);
    engine.plan();
    state_location_ = engine.state_path();
    workspace_ = engine.workspace();
    jobs = engine.jobs();
    nodes = engine.nodes();
    mtime_ = file_mtime();
  }
  poll();
  std::lock_guard lock(mu_);
  if (!file_.empty()) set_plan(jobs, std::move(nodes));
  recompute_statuses();
}

void Dashboard::set_plan(const std::vector<JobInfo>& jobs, std::vector<NodeInfo> nodes) {
  auto view = std::make_unique<PlanView>();
  for (NodeInfo& n : nodes) {
    Value inputs = Value::map();
    for (auto& [name, v] : n.inputs) inputs.entries.emplace_back(Value::of_string(name), std::move(v));
    json planned = {{"action", n.action}, {"reason", n.reason}, {"changes", changes_json(n.changes)},
                    {"inputs", value_json(inputs)}, {"uuid", n.uuid}, {"hash", n.hash},
                    {"deps", n.deps}, {"site", n.site}};
    view->add({std::move(n.key), std::move(n.type), std::move(n.identifier), std::move(n.uuid), std::move(n.hash),
               std::move(n.action), std::move(n.reason), std::move(n.deps), std::move(planned)});
  }
  // A create or update is its node's job; a delete's hash is the one stored.
  auto stored_hash = [this](const std::string& key) {
    auto st = snap_->stored.find(key);
    return st == snap_->stored.end() ? std::string() : st->second.hash;
  };
  for (const JobInfo& j : jobs) {
    auto n = j.action == "delete" ? view->index.end() : view->index.find(j.key);
    const PlannedNode* node = n == view->index.end() ? nullptr : &view->nodes[n->second];
    view->jobs.push_back({{"index", j.index}, {"action", j.action}, {"event", event_name(j.action)},
                          {"key", j.key}, {"type", j.type}, {"identifier", j.identifier}, {"uuid", j.uuid},
                          {"hash", node ? node->hash : stored_hash(j.key)}, {"details", j.details},
                          {"replace", j.replace}, {"reason", j.reason},
                          {"changes", node ? node->planned["changes"] : json::array()}, {"deps", j.deps},
                          {"deferred", j.deferred}});
    if (j.deferred) view->jobs.back()["waits_for"] = j.waits_for;
  }
  // Deletions of what the pipeline no longer has, with their deps as stored.
  for (const JobInfo& j : jobs) {
    if (j.action != "delete" || j.replace || view->index.count(j.key)) continue;
    std::string hash = stored_hash(j.key);
    json planned = {{"action", j.action}, {"reason", j.reason}, {"uuid", j.uuid}, {"hash", hash}};
    PlannedNode n{j.key, j.type, j.identifier, j.uuid, std::move(hash), "delete", j.reason, {}, std::move(planned)};
    auto st = snap_->stored.find(n.key);
    if (st != snap_->stored.end()) n.deps = st->second.deps;
    view->add(std::move(n));
  }
  ++versions_.graph;
  plan_ = std::move(view);
}

Dashboard::~Dashboard() { stop(); }

StateReader& Dashboard::store() {
  // Until the state has a run, it is opened afresh: the file may appear meanwhile.
  if (!store_ || !snap_->run) store_ = std::make_unique<StateReader>(state_location_, workspace_);
  return *store_;
}

long long Dashboard::file_mtime() const {
  struct stat st {};
  if (file_.empty() || ::stat(file_.c_str(), &st) != 0) return 0;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

void Dashboard::poll() {
  if (stopped_) return;
  bool replan_needed = read_state();
  long long mtime = file_mtime();
  if (!file_.empty() && mtime != mtime_) {
    mtime_ = mtime;
    replan_needed = true;
  }
  if (replan_needed) replan();
}

bool Dashboard::read_state() {
  bool replan_needed = false;
  {
    std::lock_guard lock(mu_);
    ++polls_;
    StateReader& st = store();
    Marker marker;
    std::optional<RunEntry> run;
    std::vector<JobEntry> jobs;
    auto runs = st.runs(1);
    if (!runs.empty()) {
      run = runs[0];
      marker.run = run->id;
      marker.ended = !run->ended.empty();
      // A run already seen finished has not changed: its jobs need no new read.
      if (snap_->marker.run == marker.run && snap_->marker.ended && marker.ended) jobs = snap_->jobs;
      else jobs = st.jobs_of_run(run->id);
      marker.jobs = jobs.size();
      for (const auto& j : jobs) marker.ended_jobs += !j.ended.empty();
    }
    bool moved = !snap_->read || !(marker == snap_->marker);
    // The state can also change without the journal (state rm, state mv): a slower look.
    if (!moved && polls_ % 8 != 0) return false;
    auto stored = st.stored();
    std::string text;
    for (const auto& s : stored) text += s.key + ' ' + s.uuid + ' ' + s.hash + ' ' + s.status + '\n';
    size_t digest = std::hash<std::string>{}(text);
    if (!moved && digest == snap_->digest) return false;
    // Once a run ends (or the state changed outside of any run) the plan is made again.
    bool run_in_progress = marker.run && !marker.ended;
    bool run_ended = snap_->read && marker.ended && !(snap_->marker.run == marker.run && snap_->marker.ended);
    replan_needed = snap_->read && (run_ended || (!run_in_progress && digest != snap_->digest));
    snap_->stored.clear();
    for (auto& s : stored) snap_->stored.emplace(s.key, std::move(s));
    snap_->run = std::move(run);
    snap_->jobs = std::move(jobs);
    snap_->marker = marker;
    snap_->digest = digest;
    snap_->read = true;
    recompute_statuses();
    ++versions_.status;
  }
  changed_.notify_all();
  return replan_needed;
}

void Dashboard::replan() {
  if (file_.empty()) return;
  std::vector<JobInfo> jobs;
  std::vector<NodeInfo> nodes;
  std::string error;
  try {
    Engine engine(options_);
    engine.load_file(file_);
    engine.plan();
    jobs = engine.jobs();
    nodes = engine.nodes();
  } catch (const Error& e) {
    error = e.display();
  } catch (const std::exception& e) {
    error = e.what();
  }
  {
    std::lock_guard lock(mu_);
    if (!error.empty()) {
      plan_->error = error;  // the last good plan stays on the page
      ++versions_.graph;
    } else {
      set_plan(jobs, std::move(nodes));
    }
    recompute_statuses();
    ++versions_.status;
  }
  changed_.notify_all();
}

std::string Dashboard::status_of(const PlannedNode& node, const std::unordered_set<std::string>& running,
                                 const std::unordered_map<std::string, std::string>& left) const {
  if (running.count(node.key)) return "running";
  auto it = snap_->stored.find(node.key);
  const StoredInfo* stored = it == snap_->stored.end() ? nullptr : &it->second;
  if (stored && stored->status != "ok") return stored->status;  // running, failed, pending
  // Skipped or interrupted in the last run, and still to do: said so, not "create".
  if (auto l = left.find(node.key); l != left.end() && node.action != "none") return l->second;
  if (node.action == "delete") return stored ? "delete" : "deleted";
  if (node.action == "create" || node.action == "update" || node.action == "replace")
    return stored && stored->hash == node.hash ? "applied" : node.action;
  return stored ? "applied" : "create";
}

void Dashboard::recompute_statuses() {
  if (file_.empty()) {
    // Without a pipeline the graph is what the state holds.
    std::set<std::string> keys;
    for (const auto& [key, s] : snap_->stored) keys.insert(key);
    std::set<std::string> shown;
    for (const auto& n : plan_->nodes) shown.insert(n.key);
    if (keys != shown) {
      auto view = std::make_unique<PlanView>();
      for (const auto& key : keys) {
        const StoredInfo& s = snap_->stored.at(key);
        view->add({s.key, s.type, s.identifier, s.uuid, s.hash, "none", "", s.deps, nullptr});
      }
      ++versions_.graph;
      plan_ = std::move(view);
    }
  }
  // Running: a job started and not ended in a run not ended, and not skipped (a job
  // skipped because what it needs failed never runs). Left: the jobs of the last run
  // that were skipped or interrupted.
  std::unordered_set<std::string> running;
  std::unordered_map<std::string, std::string> left;
  bool under_way = snap_->run && snap_->run->ended.empty();
  for (const auto& j : snap_->run ? snap_->jobs : std::vector<JobEntry>{}) {
    if (j.outcome == "skipped" || j.outcome == "interrupted") left[j.key] = j.outcome;
    else if (under_way && j.ended.empty() && !j.started.empty()) running.insert(j.key);
  }
  statuses_.clear();
  for (const auto& n : plan_->nodes) statuses_[n.key] = status_of(n, running, left);
}

Dashboard::Versions Dashboard::versions() const {
  std::lock_guard lock(mu_);
  return versions_;
}

Dashboard::Versions Dashboard::wait_change(const Versions& seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return stopped_ || !(versions_ == seen); });
  return versions_;
}

void Dashboard::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
  if (apply_thread_.joinable()) apply_thread_.join();
}

std::string Dashboard::info_json() const {
  std::lock_guard lock(mu_);
  json out = {{"pipeline", file_}, {"state", redact_location(state_location_)}, {"workspace", workspace_}, {"allow_apply", allow_apply_}};
  return out.dump();
}

std::string Dashboard::graph_json() const {
  std::lock_guard lock(mu_);
  json nodes = json::array();
  for (const auto& n : plan_->nodes) {
    std::vector<std::string> deps;
    for (const auto& d : n.deps)
      if (plan_->index.count(d)) deps.push_back(d);
    nodes.push_back({{"key", n.key}, {"type", n.type}, {"identifier", n.identifier}, {"action", n.action},
                     {"reason", n.reason}, {"status", statuses_.at(n.key)}, {"deps", deps}});
  }
  json out = {{"graph", versions_.graph}, {"status", versions_.status}, {"pipeline", file_}, {"nodes", nodes}};
  return out.dump();
}

std::string Dashboard::status_json() const {
  std::lock_guard lock(mu_);
  json run = nullptr;
  if (snap_->run) {
    const RunEntry& r = *snap_->run;
    std::vector<std::string> running;
    int ended = 0;
    for (const auto& j : snap_->jobs) {
      if (j.ended.empty() && r.ended.empty()) running.push_back(j.key);
      ended += !j.ended.empty();
    }
    run = {{"run", r.id},         {"command", r.command}, {"started", r.started}, {"ended", r.ended},
           {"outcome", r.outcome}, {"summary", r.summary}, {"pid", r.pid},        {"jobs", snap_->jobs.size()},
           {"ended_jobs", ended}, {"running", running}};
  }
  json out = {{"graph", versions_.graph},
              {"status", versions_.status},
              {"statuses", statuses_},
              {"run", run},
              {"plan_error", plan_->error},
              {"apply", {{"allowed", allow_apply_}, {"running", applying_}, {"summary", apply_summary_},
                         {"error", apply_error_}}}};
  return out.dump();
}

std::string Dashboard::plan_json() const {
  std::lock_guard lock(mu_);
  json out = {{"pipeline", file_}, {"error", plan_->error}, {"graph", versions_.graph},
              {"jobs", plan_->jobs}};
  return out.dump();
}

std::string Dashboard::runs_json(int limit) {
  std::lock_guard lock(mu_);
  return "{\"runs\":" + store().log(limit, true) + "}";
}

std::string Dashboard::component_json(const std::string& key) {
  std::lock_guard lock(mu_);
  StateReader& st = store();
  json out = {{"key", key}, {"status", nullptr}, {"planned", nullptr}, {"stored", nullptr}};
  bool known = false;
  if (auto it = statuses_.find(key); it != statuses_.end()) {
    out["status"] = it->second;
    known = true;
  }
  if (auto it = plan_->index.find(key); it != plan_->index.end() && !plan_->nodes[it->second].planned.is_null()) {
    out["planned"] = plan_->nodes[it->second].planned;  // its inputs masked by the engine
    known = true;
  }
  // Sensitive values masked as the state recorded them.
  if (snap_->stored.count(key)) {
    out["stored"] = json::parse(st.show(key, true));
    known = true;
  }
  out["history"] = json::parse(st.history(key, true));
  known = known || !out["history"].empty();
  json jobs = json::array();
  for (const auto& run : st.runs(job_runs_scanned)) {
    auto of_run = st.jobs_of_run(run.id);
    for (auto j = of_run.rbegin(); j != of_run.rend() && jobs.size() < jobs_shown; ++j)
      if (j->key == key) jobs.push_back(job_json(*j));
    if (jobs.size() >= jobs_shown) break;
  }
  known = known || !jobs.empty();
  out["jobs"] = jobs;
  if (!known) fail(Msg::UnknownKeyAnywhere, {key});
  return out.dump();
}

std::pair<int, std::string> Dashboard::start_apply() {
  if (!allow_apply_) return {403, message(Msg::ServerReadOnly)};
  if (file_.empty()) return {400, "no pipeline to apply: start 'ochre serve FILE --allow-apply'"};
  {
    std::lock_guard lock(mu_);
    if (stopped_) return {503, message(Msg::ServerStopping)};
    if (applying_) return {409, message(Msg::ApplyAlreadyUnderWay)};
    applying_ = true;
    if (apply_thread_.joinable()) apply_thread_.join();  // the last one, finished
  }
  auto engine = std::make_unique<Engine>(options_);
  try {
    engine->load_file(file_);
    engine->lock();  // as `ochre run` does: one writer at a time
  } catch (const Error& e) {
    std::lock_guard lock(mu_);
    applying_ = false;
    return {e.kind() == ErrorKind::Locked ? 409 : 400, e.display()};
  }
  {
    std::lock_guard lock(mu_);
    apply_summary_.clear();
    apply_error_.clear();
    ++versions_.status;
    apply_thread_ = std::thread([this, engine = std::move(engine)]() mutable {
      std::string summary, error;
      try {
        engine->plan();
        RunResult r = engine->apply();
        summary = r.nothing_to_do ? engine->plan_table() : r.summary;
        while (!summary.empty() && summary.back() == '\n') summary.pop_back();
      } catch (const Error& e) {
        error = e.display();
      } catch (const std::exception& e) {
        error = message(Code::Internal, {e.what()});
      }
      engine.reset();  // releases the lock
      {
        std::lock_guard lock(mu_);
        applying_ = false;
        apply_summary_ = summary;
        apply_error_ = error;
        ++versions_.status;
      }
      changed_.notify_all();
    });
  }
  changed_.notify_all();
  return {202, message(Msg::ServerApplying, {file_})};
}

}  // namespace ochre::cli
