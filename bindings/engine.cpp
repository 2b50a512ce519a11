// ochre::Engine, the public API: a Lua pipeline (lua::Session, the PipelineSource and
// the hooks' host) glued to the Workspace that plans and applies it.
#include <algorithm>
#include <thread>

#include "bindings/session.hpp"
#include "engine/inspect.hpp"
#include "engine/workspace.hpp"

namespace ochre {

struct Engine::Impl {
  Impl(Options o, lua_State* host)
      : options(std::move(o)), session(options, host), runner(session),
        workspace(options, session, runner, session.loop()) {
    session.set_files_root([this] { return workspace.files_root(); });
    session.journal = [this]() -> StateStore* { return workspace.applying() ? &workspace.state(true) : nullptr; };
  }
  Options options;
  lua::Session session;
  lua::LuaHookRunner runner;
  Workspace workspace;

  const Graph& graph() const {
    workspace.current_plan();  // "no plan yet" without one
    return *workspace.graph();
  }
};

Engine::Engine(Options options) : impl_(std::make_unique<Impl>(std::move(options), nullptr)) {}
Engine::Engine(lua_State* host, Options options) : impl_(std::make_unique<Impl>(std::move(options), host)) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

void Engine::define_type(NativeType type) { lua::define_native_type(impl_->session, std::move(type)); }

void Engine::load_file(const std::string& path) {
  Impl& im = *impl_;
  im.session.load_file(path, [&](const std::string& source) { im.workspace.pipeline_at(source); });
  auto [state, ws] = im.session.settings();
  im.workspace.adopt_settings(state, ws);
}

void Engine::load_string(std::string_view code, const std::string& name) {
  Impl& im = *impl_;
  im.session.load_string(code, name);
  auto [state, ws] = im.session.settings();
  im.workspace.adopt_settings(state, ws);
}

void Engine::plan() { impl_->workspace.plan(false); }
void Engine::plan_destroy(const std::vector<std::string>& keys) { impl_->workspace.plan(true, keys); }
void Engine::lock() { impl_->workspace.lock(); }
void Engine::close_state() {
  impl_->workspace.close_state();
  // The helper that runs hook commands ends too, when none runs: before the program, which
  // so collects it (and the CPU time of its commands).
  auto& spawner = impl_->session.spawner;
  if (spawner && spawner->idle()) spawner.reset();
}
const std::string& Engine::state_path() const { return impl_->workspace.state_path(); }
void Engine::set_state_path(const std::string& path) { impl_->workspace.set_state_path(path); }
const std::string& Engine::workspace() const { return impl_->workspace.name(); }

std::vector<JobInfo> Engine::jobs() const {
  const Plan& p = impl_->workspace.current_plan();
  std::vector<JobInfo> out;
  out.reserve(p.jobs.size());
  for (int i = 0; i < (int)p.jobs.size(); ++i) out.push_back(job_info(p, i, impl_->workspace.graph()));
  return out;
}

std::vector<NodeInfo> Engine::nodes() const {
  return node_infos(impl_->workspace.current_plan(), impl_->graph());
}

bool Engine::plan_edits_state() const { return !impl_->workspace.current_plan().edits.empty(); }
int Engine::job_count() const { return static_cast<int>(impl_->workspace.current_plan().jobs.size()); }

JobInfo Engine::job(int index) const {
  const Plan& p = impl_->workspace.current_plan();
  if (index < 0 || index >= static_cast<int>(p.jobs.size()))
    fail(Msg::NoJob, {std::to_string(index)});
  return job_info(p, index, impl_->workspace.graph());
}

std::string Engine::plan_table() const { return format_table(impl_->workspace.current_plan()); }
void Engine::plan_table(const std::function<void(std::string_view)>& write) const {
  format_table(impl_->workspace.current_plan(), write);
}
void Engine::plan_changes(const std::function<void(std::string_view)>& write) const {
  const Plan& plan = impl_->workspace.current_plan();
  // An empty plan shows no fields: the state is not read again for what it masks.
  format_changes(plan, plan.empty() ? Sensitive() : impl_->workspace.sensitive(), write);
}
std::string Engine::plan_json() const {
  return format_json(impl_->workspace.current_plan(), impl_->graph(), impl_->workspace.sensitive(),
                     impl_->session.inputs());
}
std::string Engine::explain(const std::string& key) const {
  return format_explain(impl_->workspace.current_plan(), impl_->graph(), key, impl_->workspace.sensitive());
}
std::string Engine::graph(const std::string& format) const {
  return format_graph(impl_->workspace.current_plan(), impl_->graph(), format);
}

RunResult Engine::apply(const Callbacks& callbacks) { return impl_->workspace.apply(callbacks); }
void Engine::begin_apply(const Callbacks& callbacks) { impl_->workspace.begin_apply(callbacks); }
bool Engine::applying() const { return impl_->workspace.applying(); }
std::vector<int> Engine::ready_jobs() const { return impl_->workspace.ready_jobs(); }
JobEnd Engine::step(int index) { return impl_->workspace.step(index); }
void Engine::skip(int index) { impl_->workspace.skip(index); }
RunResult Engine::continue_apply() { return impl_->workspace.continue_apply(); }
RunResult Engine::end_apply() { return impl_->workspace.end_apply(); }

std::vector<Instance> Engine::stored() const {
  std::vector<Instance> out;
  for (StoredInstance& s : impl_->workspace.stored()) {
    Instance in;
    in.type = std::move(s.type);
    in.identifier = std::move(s.identifier);
    in.key = std::move(s.key);
    in.fields = s.fields;
    in.outputs = std::move(s.outputs);
    out.push_back(std::move(in));
  }
  std::sort(out.begin(), out.end(), [](const Instance& a, const Instance& b) { return a.key < b.key; });
  return out;
}

std::string Engine::state_list(bool json) { return impl_->workspace.state_list(json); }
std::string Engine::state_show(const std::string& key, bool json) { return impl_->workspace.state_show(key, json); }
std::string Engine::log(int limit, bool json) { return impl_->workspace.log(limit, json); }
std::string Engine::history(const std::string& key, bool json) { return impl_->workspace.history(key, json); }
void Engine::state_rm(const std::string& key) { impl_->workspace.state_rm(key); }
void Engine::state_mv(const std::string& from, const std::string& to) { impl_->workspace.state_mv(from, to); }
void Engine::import_instance(const std::string& key) { impl_->workspace.import_instance(key); }

std::string webhook_url_problem(std::string_view url) { return check_webhook_url(url); }

int default_jobs() {
  unsigned n = std::thread::hardware_concurrency();
  return std::max(4, static_cast<int>(2 * (n ? n : 1)));
}

std::vector<Engine::TestResult> Engine::run_tests() {
  lua::Session& s = impl_->session;
  lua_State* L = s.L();
  std::vector<TestResult> out;
  auto run = [&](const std::string& name, const std::string& key, int nargs) {
    TestResult t;
    t.name = name;
    JobOutcome o = s.run_hook_blocking(key, name, nargs, [](lua_State*, int) { return JobOutcome{}; });
    if (o.kind != JobOutcome::Done) {
      // "name failed: message" -> the message
      std::string prefix = name + " failed: ";
      if (o.error.rfind(prefix, 0) == 0) o.error = o.error.substr(prefix.size());
    }
    t.passed = o.kind == JobOutcome::Done;
    t.message = o.error;
    out.push_back(std::move(t));
  };
  s.push_internal("tests");
  int tests = lua_gettop(L);
  for (int i = 1, n = static_cast<int>(lua_objlen(L, tests)); i <= n; ++i) {
    lua_rawgeti(L, tests, i);
    lua_getfield(L, -1, "name");
    std::string name = lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "fn");
    lua_remove(L, -2);
    run("test " + name, "test " + name, 0);
  }
  lua_settop(L, tests - 1);
  // Instances with a test method.
  if (const Graph* g = impl_->workspace.graph()) {
    for (const Node& n : g->nodes()) {
      int top = lua_gettop(L);
      s.push_type(n.type);
      lua_getfield(L, -1, "methods");
      lua_getfield(L, -1, "test");
      if (lua_isfunction(L, -1)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, n.handle);  // fn, instance on top
        run(n.key + ":test", n.key, 1);
      }
      lua_settop(L, top);
    }
  }
  return out;
}

void Engine::enter(const std::string& key, const std::string& method) {
  lua::Session& s = impl_->session;
  const Plan& plan = impl_->workspace.current_plan();
  const Graph& graph = impl_->graph();
  int n = graph.find(key);
  if (n < 0) fail(Msg::UnknownKeyInPipeline, {key});
  const StoredInstance* stored = plan.find_stored(key);
  bool applied = stored && stored->status == Status::Ok;
  if (!applied) fail(Msg::NotApplied, {key});
  lua_State* L = s.L();
  int top = lua_gettop(L);
  s.push_type(graph.node(n).type);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, method.c_str());
  if (!lua_isfunction(L, -1)) {
    lua_settop(L, top);
    fail(Msg::NoMethod, {key, method});
  }
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, graph.node(n).handle);
  JobOutcome o = s.run_hook_blocking(key, key + ": " + method, 1, [](lua_State*, int) { return JobOutcome{}; },
                                     /*raw=*/true);
  if (o.kind != JobOutcome::Done) fail(Code::HookFailed, {o.error});
}

std::vector<std::string> Engine::watch_paths() const {
  const std::string& source = impl_->session.source();
  std::vector<std::string> out;
  if (source.size() && source[0] == '/') out.push_back(source);
  for (std::string& p : impl_->session.inputs())
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
  const Graph* g = impl_->workspace.graph();
  if (!g) return out;
  for (const Node& n : g->nodes()) {
    const Value* p = find_field(n.fields, "path");
    if (p && p->kind == Value::Kind::String && !p->text.empty() &&
        std::find(out.begin(), out.end(), p->text) == out.end())
      out.push_back(p->text);
  }
  return out;
}

void Engine::interrupt() { impl_->session.interrupt(); }

std::string Engine::eval(const std::string& code, bool& incomplete) {
  return impl_->session.eval(code, incomplete, impl_->workspace.graph());
}

std::vector<std::string> Engine::keys() const {
  std::vector<std::string> out;
  if (const Graph* g = impl_->workspace.graph())
    for (const Node& n : g->nodes()) out.push_back(n.key);
  return out;
}

lua::Session& LuaModule::session(Engine& e) { return e.impl_->session; }

}  // namespace ochre
