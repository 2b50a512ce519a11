// ochre::Engine, the public API, over a Session.
#include <algorithm>
#include <climits>
#include <thread>

#include "bindings/session.hpp"
#include "engine/delivery.hpp"
#include "engine/inspect.hpp"
#include "engine/notify.hpp"

namespace ochre {

struct Engine::Impl {
  explicit Impl(Options o, lua_State* host = nullptr) : session(std::move(o), host) {}
  ~Impl() {
    // A run an error stopped (the disk full, the state gone) is closed if the state still
    // takes writes. A destructor must not throw: what it could not record, the next run
    // finds as interrupted and retries.
    if (run) {
      callbacks = {};  // the host's callbacks may be gone already (a stack unwinding)
      try {
        run->end();
      } catch (const std::exception&) {
      }
    }
  }
  lua::Session session;
  std::unique_ptr<lua::LuaHookRunner> runner;
  std::unique_ptr<Notifier> notifier;  // the webhooks of the apply under way
  std::unique_ptr<ApplyRun> run;
  // Sends notifications while an apply runs; declared after `run`, so it stops first
  // (what it did not send stays in the outbox for the next apply).
  std::unique_ptr<Delivery> delivery;
  Delivery::Left left;  // what the last apply left undelivered
  std::vector<std::string> roots;
  Callbacks callbacks;

  const Plan& plan() const {
    if (!session.current_plan) fail(Code::Internal, {"no plan yet: call plan() first"});
    return *session.current_plan;
  }

  // The sensitive fields of every type defined in the Lua state (dsl.lua keeps each
  // type's list as T.sensitive), for the displays to mask.
  Sensitive sensitive() {
    Sensitive out;
    lua_State* L = session.L();
    int top = lua_gettop(L);
    session.push_internal("types");
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
          lua_getfield(L, -1, "sensitive");
          if (lua_istable(L, -1)) {
            std::vector<std::string> names;
            for (int i = 1, n = static_cast<int>(lua_objlen(L, -1)); i <= n; ++i) {
              lua_rawgeti(L, -1, i);
              if (lua_type(L, -1) == LUA_TSTRING) names.push_back(lua_tostring(L, -1));
              lua_pop(L, 1);
            }
            if (!names.empty()) out.emplace(lua_tostring(L, -3), std::move(names));
          }
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
      }
    }
    lua_settop(L, top);
    // What the state recorded: masks views made without the pipeline (state show).
    for (const StoredInstance& st : session.state(false).load())
      for (const auto& f : st.sensitive) {
        auto& names = out[st.type];
        if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
      }
    return out;
  }

  // The webhooks of an apply: the options' (--notify) and the pipeline's (ochre.notify,
  // checked where it was called).
  std::vector<Endpoint> endpoints() {
    std::vector<Endpoint> out;
    for (const Webhook& w : session.options.notify) {
      std::string problem = check_webhook_url(w.url);
      if (!problem.empty()) fail(Code::Usage, {"webhook '" + w.url + "': " + problem});
      if (w.secret.empty())
        fail(Code::Usage, {"webhook " + url_origin(w.url) + " has no secret to sign deliveries with (set OCHRE_NOTIFY_SECRET)"});
      for (const auto& e : w.events)
        if (!is_notify_event(e)) fail(Code::Usage, {"webhook " + url_origin(w.url) + ": unknown event '" + e + "'"});
      out.push_back({w.url, w.secret, w.events});
    }
    lua_State* L = session.L();
    int top = lua_gettop(L);
    session.push_internal("notify");
    for (int i = 1, n = lua_istable(L, -1) ? static_cast<int>(lua_objlen(L, -1)) : 0; i <= n; ++i) {
      lua_rawgeti(L, top + 1, i);
      Endpoint e;
      lua_getfield(L, -1, "url");
      e.url = lua_tostring(L, -1);
      lua_getfield(L, -2, "secret");
      e.secret = lua_tostring(L, -1);
      lua_getfield(L, -3, "events");
      for (int k = 1, m = static_cast<int>(lua_objlen(L, -1)); k <= m; ++k) {
        lua_rawgeti(L, -1, k);
        e.events.push_back(lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      lua_settop(L, top + 1);
      out.push_back(std::move(e));
    }
    lua_settop(L, top);
    return out;
  }

  // A delivery thread on its own connection to the state (one in memory is seen by this
  // connection only: then it is borrowed, and deliveries go out at the apply's end).
  std::unique_ptr<Delivery> open_delivery() {
    if (session.state_path == ":memory:") return std::make_unique<Delivery>(session.state(true));
    return std::make_unique<Delivery>(open_state(session.state_path, session.workspace, OpenMode::ReadWrite));
  }

  // Before an apply: its webhooks, and the thread that sends their events and whatever
  // an earlier apply left undelivered.
  void start_notifications(std::vector<Endpoint> endpoints, const char* command) {
    delivery.reset();
    left = {};
    notifier = std::make_unique<Notifier>(std::move(endpoints), session.source, command);
    if (notifier->empty() && !session.undelivered) return;
    delivery = open_delivery();
  }

  // After an apply (the lock still held): waits up to the timeout for what is not sent.
  void finish_notifications() {
    notifier.reset();
    if (!delivery) return;
    left = delivery->finish(session.options.notify_timeout);
    delivery.reset();
  }

  // An apply with nothing to do sends nothing of its own, only what earlier ones left.
  void deliver_leftovers() {
    left = {};
    if (!session.undelivered) return;
    delivery = open_delivery();
    finish_notifications();
  }

  // Rows stored by an older ochre lack their type's breaking fields; an apply of the
  // pipeline records them, even when it has no job to run, so `state mv` can work.
  void record_breaks() {
    if (session.destroying) return;
    std::vector<std::pair<std::string, std::vector<std::string>>> missing;
    for (const StoredInstance& st : plan().stored) {
      int n = st.breaks_known ? -1 : session.graph->find(st.key);
      if (n >= 0) missing.emplace_back(st.key, session.graph->node(n).breaks);
    }
    if (missing.empty()) return;
    session.lock();
    StateStore& store = session.state(true);
    for (const auto& [key, breaks] : missing) store.set_breaks(key, breaks);
  }
};

Engine::Engine(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::Engine(lua_State* host, Options options)
    : impl_(std::make_unique<Impl>(std::move(options), host)) {}

void Engine::set_state_path(const std::string& path) { impl_->session.set_state_path(path); }

void Engine::define_type(NativeType type) { lua::define_native_type(impl_->session, std::move(type)); }

std::vector<Instance> Engine::stored() const {
  std::vector<Instance> out;
  for (const StoredInstance& s : impl_->session.state(false).load()) {
    Instance in;
    in.type = s.type;
    in.identifier = s.identifier;
    in.key = s.key;
    in.fields = s.fields;
    in.outputs = s.outputs;
    out.push_back(std::move(in));
  }
  std::sort(out.begin(), out.end(), [](const Instance& a, const Instance& b) { return a.key < b.key; });
  return out;
}
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

const std::string& Engine::workspace() const { return impl_->session.workspace; }

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
  return format_state_show(find_stored(impl_->session.state(false), key), json, impl_->sensitive());
}

std::string Engine::log(int limit, bool json) {
  return format_log(impl_->session.state(false), limit, json);
}

std::string Engine::history(const std::string& key, bool json) {
  auto versions = impl_->session.state(false).versions(key);
  if (versions.empty()) find_stored(impl_->session.state(false), key);  // unknown: an error
  return format_history(versions, key, json, impl_->sensitive());
}

void Engine::state_rm(const std::string& key) {
  lua::Session& s = impl_->session;
  find_stored(s.state(false), key);  // an unknown key writes nothing
  s.lock();
  StateStore& st = s.state(true);
  find_stored(st, key);
  st.forget(key);
}

void Engine::state_mv(const std::string& from, const std::string& to) {
  lua::Session& s = impl_->session;
  plan_move(s.state(false).load(), from, to);  // a refused move writes nothing
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
  out.reserve(p.jobs.size());
  for (int i = 0; i < (int)p.jobs.size(); ++i) out.push_back(info_of(p, i));
  return out;
}

int Engine::job_count() const { return static_cast<int>(impl_->plan().jobs.size()); }

JobInfo Engine::job(int index) const {
  const Plan& p = impl_->plan();
  if (index < 0 || index >= static_cast<int>(p.jobs.size()))
    fail(Code::NotNow, {"no job " + std::to_string(index) + " in the plan"});
  return info_of(p, index);
}

std::string Engine::plan_table() const { return format_table(impl_->plan()); }
void Engine::plan_table(const std::function<void(std::string_view)>& write) const {
  format_table(impl_->plan(), write);
}
std::string Engine::plan_json() const {
  return format_json(impl_->plan(), *impl_->session.graph, impl_->sensitive());
}
std::string Engine::explain(const std::string& key) const {
  return format_explain(impl_->plan(), *impl_->session.graph, key, impl_->sensitive());
}

std::string webhook_url_problem(std::string_view url) { return check_webhook_url(url); }

int default_jobs() {
  unsigned n = std::thread::hardware_concurrency();
  return std::max(4, static_cast<int>(2 * (n ? n : 1)));
}

void Engine::lock() {
  impl_->session.lock();
}

void Engine::close_state() {
  if (impl_->run) fail(Code::NotNow, {"an apply is under way"});
  impl_->delivery.reset();
  impl_->session.close_state();
}

namespace {

RunResult result_of(const ApplyReport& report) {
  RunResult result;
  result.done = report.done;
  result.failed = report.failed;
  result.skipped = report.skipped;
  result.pending = report.pending;
  result.waiting = report.waiting;
  result.interrupted = report.interrupted;
  result.summary = report.summary();
  return result;
}

}  // namespace

void Engine::begin_apply(const Callbacks& callbacks) {
  Impl& im = *impl_;
  if (im.run) fail(Code::NotNow, {"an apply is already under way"});
  lua::Session& s = im.session;
  im.plan();
  if (!s.planned_under_lock()) {
    // Another ochre may have changed the state since this plan: plan again under the lock.
    s.lock();
    s.plan(s.destroying, s.destroy_keys);
  }
  const Plan& plan = im.plan();
  std::vector<Endpoint> endpoints = im.endpoints();
  if (plan.empty()) {
    // Nothing to run: no run is opened in the journal, nothing is notified. Old rows may
    // still learn their breaking fields; notifications an earlier run left go out.
    im.record_breaks();
    im.deliver_leftovers();
    s.unlock();
    return;
  }
  StateStore& st = s.state(true);
  im.start_notifications(std::move(endpoints), s.destroying ? "destroy" : "apply");
  recover_interrupted(st, im.notifier.get(), s.source);
  im.runner = std::make_unique<lua::LuaHookRunner>(s);
  im.callbacks = callbacks;
  im.roots.clear();
  for (int r : s.graph->roots()) im.roots.push_back(s.graph->node(r).key);
  ApplyEvents events;
  Impl* self = &im;
  events.started = [self](int i, const Job&) {
    if (self->callbacks.started) self->callbacks.started(info_of(self->plan(), i));
  };
  events.finished = [self](int i, const Job&, const JobOutcome& o) {
    if (!self->callbacks.finished) return;
    JobEnd end;
    end.outcome = outcome_name(o.kind);
    end.error = o.error;
    end.output = o.output;
    self->callbacks.finished(info_of(self->plan(), i), end);
  };
  events.interrupted = callbacks.interrupted;
  events.tick = callbacks.tick;
  ApplyOptions opts;
  opts.jobs = s.options.jobs > 0 ? s.options.jobs : default_jobs();
  opts.fail_fast = s.options.fail_fast;
  opts.loop = s.loop();
  opts.roots = s.destroying ? nullptr : &im.roots;
  opts.clear_roots = s.destroy_all;
  opts.notifier = im.notifier.get();
  RunInfo info{s.destroying ? "destroy" : "apply", s.source};
  im.run = std::make_unique<ApplyRun>(plan, *s.graph, st, *im.runner, info, opts, events);
}

bool Engine::applying() const { return impl_->run != nullptr; }

std::vector<int> Engine::ready_jobs() const {
  return impl_->run ? impl_->run->ready() : std::vector<int>{};
}

namespace {
void need_run(const std::unique_ptr<ApplyRun>& run) {
  if (!run) fail(Code::NotNow, {"nothing to apply: the plan is empty"});
}
}  // namespace

JobEnd Engine::step(int index) {
  if (!impl_->run) begin_apply();
  need_run(impl_->run);
  JobOutcome o = impl_->run->step(index);
  JobEnd end;
  end.outcome = outcome_name(o.kind);
  end.error = o.error;
  end.output = o.output;
  return end;
}

void Engine::skip(int index) {
  if (!impl_->run) begin_apply();
  need_run(impl_->run);
  impl_->run->skip(index);
}

namespace {

RunResult nothing_done(const Delivery::Left& left) {
  RunResult result;
  result.nothing_to_do = true;
  result.undelivered = left.count;
  result.notify_error = left.error;
  return result;
}

}  // namespace

RunResult Engine::continue_apply() {
  if (!impl_->run) begin_apply();
  if (!impl_->run) return nothing_done(impl_->left);
  {
    // Run to its end: no code but the hooks' runs until it returns.
    struct Cache {
      lua::Session& s;
      ~Cache() { s.cache_files_root(false); }
    } cache{impl_->session};
    cache.s.cache_files_root(true);
    impl_->run->run_rest();
  }
  return end_apply();
}

RunResult Engine::end_apply() {
  if (!impl_->run) return {};
  ApplyReport report = impl_->run->end();
  impl_->run.reset();
  impl_->runner.reset();
  impl_->finish_notifications();
  impl_->session.unlock();
  RunResult result = result_of(report);
  result.undelivered = impl_->left.count;
  result.notify_error = impl_->left.error;
  return result;
}

RunResult Engine::apply(const Callbacks& callbacks) {
  impl_->plan();
  begin_apply(callbacks);
  if (!impl_->run) return nothing_done(impl_->left);
  impl_->record_breaks();
  return continue_apply();
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
  if (s.graph) {
    for (const Node& n : s.graph->nodes()) {
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
  const Plan& plan = impl_->plan();
  int n = s.graph->find(key);
  if (n < 0) fail(Code::UnknownKey, {key, "the pipeline"});
  const StoredInstance* stored = plan.find_stored(key);
  bool applied = stored && stored->status == Status::Ok;
  if (!applied) fail(Code::NotNow, {key + " is not applied yet: run 'ochre run' first"});
  lua_State* L = s.L();
  int top = lua_gettop(L);
  s.push_type(s.graph->node(n).type);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, method.c_str());
  if (!lua_isfunction(L, -1)) {
    lua_settop(L, top);
    fail(Code::NotNow, {key + " has no method '" + method + "'"});
  }
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s.graph->node(n).handle);
  JobOutcome o = s.run_hook_blocking(key, key + ": " + method, 1, [](lua_State*, int) { return JobOutcome{}; },
                                     /*raw=*/true);
  if (o.kind != JobOutcome::Done) fail(Code::HookFailed, {o.error});
}

std::vector<std::string> Engine::watch_paths() const {
  const lua::Session& s = impl_->session;
  std::vector<std::string> out;
  if (s.source.size() && s.source[0] == '/') out.push_back(s.source);
  if (!s.graph) return out;
  for (const Node& n : s.graph->nodes()) {
    const Value* p = find_field(n.fields, "path");
    if (p && p->kind == Value::Kind::String && !p->text.empty() &&
        std::find(out.begin(), out.end(), p->text) == out.end())
      out.push_back(p->text);
  }
  return out;
}

std::string Engine::eval(const std::string& code, bool& incomplete) {
  return impl_->session.eval(code, incomplete);
}

std::vector<std::string> Engine::keys() const {
  std::vector<std::string> out;
  if (impl_->session.graph)
    for (const Node& n : impl_->session.graph->nodes()) out.push_back(n.key);
  return out;
}


namespace {

// A LuaJIT host's ochre.apply(x [, opts]) / ochre.plan / ochre.destroy, run for real.
// opts: { state = PATH, jobs = N, quiet = BOOL }. Returns a table (see README).
int lua_verb(Engine& engine, lua::Session& s, lua_State* L, const std::string& verb) {
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "state");
    if (lua_isstring(L, -1)) engine.set_state_path(lua_tostring(L, -1));
    lua_getfield(L, 2, "jobs");
    if (lua_isnumber(L, -1)) s.options.jobs = static_cast<int>(lua_tonumber(L, -1));
    lua_pop(L, 2);
  }
  bool quiet = false;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "quiet");
    quiet = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  s.set_roots(1);
  if (verb == "destroy") engine.plan_destroy();
  else engine.plan();
  if (!quiet) s.write_output(L, engine.plan_table());
  if (verb == "plan") {
    auto jobs = engine.jobs();
    lua_createtable(L, static_cast<int>(jobs.size()), 0);
    for (const JobInfo& j : jobs) {
      lua_createtable(L, 0, 6);
      lua_pushstring(L, j.action.c_str());
      lua_setfield(L, -2, "action");
      lua_pushstring(L, j.key.c_str());
      lua_setfield(L, -2, "key");
      lua_pushstring(L, j.uuid.c_str());
      lua_setfield(L, -2, "uuid");
      lua_pushstring(L, j.details.c_str());
      lua_setfield(L, -2, "details");
      lua_pushstring(L, j.reason.c_str());
      lua_setfield(L, -2, "reason");
      lua_createtable(L, static_cast<int>(j.deps.size()), 0);
      for (size_t i = 0; i < j.deps.size(); ++i) {
        lua_pushinteger(L, j.deps[i]);
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      lua_setfield(L, -2, "deps");
      lua_rawseti(L, -2, j.index + 1);
    }
    return 1;
  }
  Callbacks cb;
  cb.finished = [&](const JobInfo& job, const JobEnd& end) {
    if (quiet || end.outcome == "done") return;
    s.write_output(L, end.outcome + ": " + job.details + (end.error.empty() ? "" : ": " + end.error) + "\n");
  };
  RunResult r = engine.apply(cb);
  lua_createtable(L, 0, 7);
  for (auto [name, n] : {std::pair{"done", r.done}, {"failed", r.failed}, {"skipped", r.skipped},
                         {"pending", r.pending}, {"waiting", r.waiting}}) {
    lua_pushinteger(L, n);
    lua_setfield(L, -2, name);
  }
  lua_pushboolean(L, r.exit_code() == 0);
  lua_setfield(L, -2, "ok");
  lua_pushstring(L, r.nothing_to_do ? no_changes_text : r.summary.c_str());
  lua_setfield(L, -2, "summary");
  return 1;
}

int l_engine_gc(lua_State* L) {
  auto** box = static_cast<Engine**>(lua_touserdata(L, 1));
  delete *box;
  *box = nullptr;
  return 0;
}

}  // namespace

}  // namespace ochre

// require "ochre" in a LuaJIT host: one engine per Lua state, owned by a userdata in the
// registry (closed with the state), whose module's apply/plan/destroy run for real.
extern "C" int luaopen_ochre(lua_State* L) {
  using namespace ochre;
  lua_getfield(L, LUA_REGISTRYINDEX, "ochre.engine");
  if (lua_isuserdata(L, -1)) {
    Engine* e = *static_cast<Engine**>(lua_touserdata(L, -1));
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->impl_for_lua().session.module_ref);
    return 1;
  }
  lua_pop(L, 1);
  // The box exists (closed, empty) before the engine does, so __gc is always safe.
  auto** box = static_cast<Engine**>(lua_newuserdata(L, sizeof(Engine*)));
  *box = nullptr;
  lua_newtable(L);
  lua_pushcfunction(L, l_engine_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "ochre.engine");
  std::string message;
  try {
    Options o;
    if (const char* st = std::getenv("OCHRE_STATE"); st && *st) o.state_path = st;
    else o.state_path = ".ochre/state.db";
    if (const char* ws = std::getenv("OCHRE_WORKSPACE"); ws && *ws) o.workspace = ws;
    *box = new Engine(L, o);
    Engine* e = *box;
    lua::Session& s = e->impl_for_lua().session;
    s.source = "lua";
    s.lua_verb = [e, &s](lua_State* LL, const char* verb) { return lua_verb(*e, s, LL, verb); };
    lua_rawgeti(L, LUA_REGISTRYINDEX, s.module_ref);
    return 1;
  } catch (const std::exception& ex) {
    message = ex.what();
  }
  lua_pushlstring(L, message.data(), message.size());
  return lua_error(L);
}
