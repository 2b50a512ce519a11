// ochre::Engine, the public API, over a Session.
#include <algorithm>
#include <thread>

#include "bindings/session.hpp"
#include "engine/inspect.hpp"

namespace ochre {

struct Engine::Impl {
  explicit Impl(Options o) : session(std::move(o)) {}
  lua::Session session;

  const Plan& plan() const {
    if (!session.current_plan) fail(Code::Internal, {"no plan yet: call plan() first"});
    return *session.current_plan;
  }
};

Engine::Engine(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

void Engine::load_file(const std::string& path) { impl_->session.load_file(path); }
void Engine::load_string(std::string_view code, const std::string& name) {
  impl_->session.load_string(code, name);
}
void Engine::plan() { impl_->session.plan(false, {}); }
void Engine::plan_destroy(const std::vector<std::string>& keys) { impl_->session.plan(true, keys); }
const std::string& Engine::state_path() const { return impl_->session.state_path; }

std::string Engine::graph(const std::string& format) const {
  return format_graph(impl_->plan(), *impl_->session.graph, format);
}

namespace {

StoredInstance find_stored(StateStore& st, const std::string& key) {
  for (auto& s : st.load())
    if (s.key == key) return s;
  fail(Code::UnknownKey, {key, "the state " + st.location()});
}

}  // namespace

std::string Engine::state_list(bool json) {
  return format_state_list(impl_->session.state(false).load(), json);
}

std::string Engine::state_show(const std::string& key, bool json) {
  return format_state_show(find_stored(impl_->session.state(false), key), json);
}

std::string Engine::log(int limit, bool json) {
  return format_log(impl_->session.state(false), limit, json);
}

std::string Engine::history(const std::string& key, bool json) {
  auto versions = impl_->session.state(false).versions(key);
  if (versions.empty()) find_stored(impl_->session.state(false), key);  // unknown: an error
  return format_history(versions, key, json);
}

void Engine::state_rm(const std::string& key) {
  lua::Session& s = impl_->session;
  s.lock();
  StateStore& st = s.state(true);
  find_stored(st, key);
  st.forget(key);
}

void Engine::state_mv(const std::string& from, const std::string& to) {
  lua::Session& s = impl_->session;
  s.lock();
  StateStore& st = s.state(true);
  st.move(from, to, plan_move(st.load(), from, to));
}

namespace {

JobInfo info_of(const Plan& plan, int i) {
  const Job& j = plan.jobs[i];
  JobInfo info;
  info.index = i;
  info.action = action_name(j.action);
  info.key = j.key;
  info.uuid = j.uuid;
  info.details = j.details();
  info.reason = j.reason;
  info.replace = j.replace;
  info.deps = j.deps;
  return info;
}

}  // namespace

std::vector<JobInfo> Engine::jobs() const {
  const Plan& p = impl_->plan();
  std::vector<JobInfo> out;
  for (int i = 0; i < (int)p.jobs.size(); ++i) out.push_back(info_of(p, i));
  return out;
}

std::string Engine::plan_table() const { return format_table(impl_->plan()); }
std::string Engine::plan_json() const {
  return format_json(impl_->plan(), *impl_->session.graph);
}
std::string Engine::explain(const std::string& key) const {
  return format_explain(impl_->plan(), *impl_->session.graph, key);
}

int default_jobs() {
  unsigned n = std::thread::hardware_concurrency();
  return std::max(4, static_cast<int>(2 * (n ? n : 1)));
}

void Engine::lock() {
  impl_->session.lock();
}

RunResult Engine::apply(const Callbacks& callbacks) {
  lua::Session& s = impl_->session;
  const Plan& plan = impl_->plan();
  RunResult result;
  if (plan.empty()) {
    result.nothing_to_do = true;
    return result;
  }
  s.lock();
  StateStore& st = s.state(true);
  st.recover_interrupted();
  lua::LuaHookRunner runner(s);
  std::vector<std::string> roots;
  for (int r : s.graph->roots()) roots.push_back(s.graph->node(r).key);
  ApplyEvents events;
  events.started = [&](int i, const Job&) {
    if (callbacks.started) callbacks.started(info_of(plan, i));
  };
  events.finished = [&](int i, const Job&, const JobOutcome& o) {
    if (!callbacks.finished) return;
    JobEnd end;
    end.outcome = outcome_name(o.kind);
    end.error = o.error;
    end.output = o.output;
    callbacks.finished(info_of(plan, i), end);
  };
  events.interrupted = callbacks.interrupted;
  events.tick = callbacks.tick;
  ApplyOptions opts;
  opts.jobs = s.options.jobs > 0 ? s.options.jobs : default_jobs();
  opts.fail_fast = s.options.fail_fast;
  opts.loop = s.loop();
  opts.roots = s.destroying ? nullptr : &roots;
  opts.clear_roots = s.destroy_all;
  RunInfo info{s.destroying ? "destroy" : "apply", s.source};
  ApplyReport report = apply_plan(plan, *s.graph, st, runner, info, opts, events);
  result.done = report.done;
  result.failed = report.failed;
  result.skipped = report.skipped;
  result.pending = report.pending;
  result.waiting = report.waiting;
  result.interrupted = report.interrupted;
  result.summary = report.summary();
  return result;
}

}  // namespace ochre
