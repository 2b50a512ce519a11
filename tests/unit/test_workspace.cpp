// The workspace (engine/workspace.*) with a pipeline and hooks written here instead of
// Lua: plans against a real SQLite state, the plan made again under the lock, applies
// on a real event loop, state rm/mv, and the decisions the scheduler defers until the
// jobs of a node's sub-components ended.
#include <catch2/catch.hpp>
#include <uv.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>

#include "engine/workspace.hpp"
#include "ochre/errors.hpp"
#include "unit/temp_state.hpp"
#include "unit/uv_loop.hpp"

using namespace ochre;

namespace {

Value num(double n) { return Value::of_number(n); }
Value str(std::string s) { return Value::of_string(std::move(s)); }
Value ref(const std::string& id) { return Value::of_ref(make_key("T", id)); }
Value outputs(const std::string& out) {
  Value v = Value::map();
  v.entries.emplace_back(str("out"), str(out));
  return v;
}

// The fields of instance T/<id> as a pipeline gives them: "identifier" added, sorted.
Fields fields_of(const std::string& id, Fields f) {
  f.emplace_back("identifier", str(id));
  std::sort(f.begin(), f.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return f;
}

// One instance T/<id> of the pipeline: its fields (refs name other instances) and what
// its type says.
struct Decl {
  Decl(std::string id_, Fields fields_ = {}, std::vector<std::string> breaks_ = {}, bool has_read_ = false,
       bool cutoff_ = false)
      : id(std::move(id_)), fields(std::move(fields_)), breaks(std::move(breaks_)), has_read(has_read_),
        cutoff(cutoff_) {}
  std::string id;
  Fields fields;
  std::vector<std::string> breaks;
  bool has_read = false;
  bool cutoff = false;
};

// A pipeline described by a list the test changes between plans; what nothing
// references are its roots.
class FakeSource : public PipelineSource {
 public:
  std::vector<Decl> decls;
  int builds = 0;
  int given_read_state = 0;  // builds that were given a read_state to call

  Decl& decl(const std::string& id) {
    for (Decl& d : decls)
      if (d.id == id) return d;
    throw std::logic_error("no declaration " + id);
  }

  const std::string& source() const override { return source_; }
  const std::string& name() const override { return name_; }
  bool has_roots() const override { return !decls.empty(); }

  Graph build_graph(const std::vector<StoredInstance>& stored, const KeyIndex& index, const std::string&,
                    const std::function<void()>& read_state) override {
    ++builds;
    Graph g;
    std::set<std::string> used;
    for (const Decl& d : decls) {
      Node n;
      n.type = "T";
      n.identifier = d.id;
      n.key = make_key("T", d.id);
      n.site = "test:" + d.id;
      n.breaks = d.breaks;
      n.has_read = d.has_read;
      n.cutoff = d.cutoff;
      n.fields = fields_of(d.id, d.fields);
      for (const auto& [name, v] : n.fields.get()) v.for_each_ref([&](const std::string& k) { used.insert(k); });
      g.add(std::move(n));
    }
    for (const Decl& d : decls)
      if (!used.count(make_key("T", d.id))) g.add_root(g.find(make_key("T", d.id)));
    if (read_state) {
      ++given_read_state;
      read_state();
    }
    auto key_of = [&stored](int i) -> const std::string& { return stored[i].key; };
    g.finalize([&](const std::string& key) -> const StoredInstance* {
      int i = index.find(key, key_of);
      return i < 0 ? nullptr : &stored[i];
    });
    return g;
  }

  void release_graph(const Graph&) override {}
  bool type_defined(const std::string& type) override { return type == "T"; }
  Sensitive sensitive() override { return {}; }
  std::vector<Endpoint> webhooks() override { return {}; }

 private:
  std::string source_ = "/test/pipeline.lua", name_ = "pipeline.lua";
};

// Hooks that end from the event loop (one a turn, in start order) or at once, within
// the call. Creates and updates return `outputs[key]` (an empty map by default); a read
// gives `reads[key]` (else the fields as planned).
class FakeRunner : public HookRunner {
 public:
  explicit FakeRunner(uv_loop_t* loop) : loop_(loop) {
    uv_idle_init(loop, &idle_);
    idle_.data = this;
  }
  ~FakeRunner() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
    uv_run(loop_, UV_RUN_NOWAIT);
  }

  bool at_once = false;
  std::map<std::string, Value> outputs;
  std::map<std::string, Fields> reads;     // by key, as fields_of gives them
  std::map<std::string, JobOutcome> read_fails;  // by key: a read that did not finish
  std::vector<std::string> log;            // "create T/a", "read T/a", ... in order
  std::map<std::string, std::string> uuid;  // "delete T/a" -> the uuid the job had

  void start(int, const Job& job, const Plan&, const Graph&, Done done) override {
    std::string line = std::string(action_name(job.action)) + " " + job.key;
    log.push_back(line);
    uuid[line] = job.uuid;
    JobOutcome o;
    if (job.action != Action::Delete) {
      auto it = outputs.find(job.key);
      o.outputs = it != outputs.end() ? it->second : Value::map();
    }
    later([done = std::move(done), o] { done(o); });
  }

  void reread(int node, const Graph& graph, Reread done) override {
    const Node& n = graph.node(node);
    log.push_back("read " + n.key);
    auto it = reads.find(n.key);
    PackedFields f = it != reads.end() ? PackedFields(it->second) : n.fields;
    auto failed = read_fails.find(n.key);
    JobOutcome o = failed != read_fails.end() ? failed->second : JobOutcome{};
    later([done = std::move(done), o, f] { done(o, f); });
  }

  void abandon_all() override { queue_.clear(); }

 private:
  void later(std::function<void()> end) {
    if (at_once) return end();
    queue_.push_back(std::move(end));
    uv_idle_start(&idle_, on_idle);
  }

  static void on_idle(uv_idle_t* h) {
    auto* self = static_cast<FakeRunner*>(h->data);
    if (!self->queue_.empty()) {
      auto end = std::move(self->queue_.front());
      self->queue_.pop_front();
      end();
    }
    if (self->queue_.empty()) uv_idle_stop(h);
  }

  uv_loop_t* loop_;
  uv_idle_t idle_;
  std::deque<std::function<void()>> queue_;
};

// "update T/a", with " replace" for half of a replace and " deferred" for a job decided late.
std::string describe(const Job& j) {
  return std::string(action_name(j.action)) + " " + j.key + (j.replace ? " replace" : "") +
         (j.deferred ? " deferred" : "");
}

using Lines = std::vector<std::string>;

// A temporary state, a loop, the fakes and a workspace on them.
struct Fixture {
  TempState dir;
  Loop loop;
  FakeRunner runner{&loop.loop};
  FakeSource source;
  Options options;
  std::unique_ptr<Workspace> ws;

  Fixture() {
    options.state_path = dir.path();
    options.jobs = 2;
    ws = std::make_unique<Workspace>(options, source, runner, &loop.loop);
  }

  // Plans and describes the jobs, in plan order.
  Lines plan(bool destroy = false) {
    ws->plan(destroy);
    return jobs();
  }
  Lines jobs() const {
    Lines out;
    for (const Job& j : ws->current_plan().jobs) out.push_back(describe(j));
    return out;
  }

  RunResult apply() {
    runner.log.clear();
    return ws->apply({});
  }

  std::unique_ptr<StateStore> store() const { return open_sqlite_state(dir.path(), OpenMode::ReadOnly); }

  std::map<std::string, StoredInstance> stored() const {
    std::map<std::string, StoredInstance> out;
    for (StoredInstance& s : store()->load()) out[s.key] = std::move(s);
    return out;
  }

  // The journal of the last run: key -> "ACTION OUTCOME".
  std::map<std::string, std::string> journal() const {
    auto st = store();
    std::map<std::string, std::string> out;
    for (const JobRecord& j : st->jobs_of_run(st->runs(1).at(0).id)) out[j.key] = j.action + " " + j.outcome;
    return out;
  }

  // The value of `field` in the stored row of T/<id>.
  Value stored_field(const std::string& id, const std::string& field) const {
    auto rows = stored();
    auto it = rows.find(make_key("T", id));
    REQUIRE(it != rows.end());
    const Value* v = find_field(it->second.fields, field);
    return v ? *v : Value();
  }
};

template <class F>
Code code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no error");
  return Code::Internal;
}

}  // namespace

TEST_CASE("plan, apply, plan again: nothing, then changes plan updates, replaces, deletes, and destroy", "[workspace]") {
  Fixture f;
  f.runner.at_once = GENERATE(false, true);
  CAPTURE(f.runner.at_once);
  f.source.decls = {{"a", {{"v", num(1)}, {"name", str("x")}}, {"name"}},
                    {"b", {{"a", ref("a")}}},
                    {"c", {}}};
  CHECK(f.plan() == Lines{"create T/a", "create T/b", "create T/c"});
  RunResult r = f.apply();
  CHECK(r.done == 3);
  CHECK(r.summary == "3 done");
  CHECK(f.runner.log.size() == 3);
  CHECK(f.stored().size() == 3);
  CHECK(f.plan().empty());
  r = f.apply();
  CHECK(r.nothing_to_do);
  CHECK(f.runner.log.empty());

  // A field changed: an update, and one of what references it (its hash moved).
  f.source.decl("a").fields = {{"v", num(2)}, {"name", str("x")}};
  CHECK(f.plan() == Lines{"update T/a", "update T/b"});
  CHECK(f.ws->current_plan().jobs[0].reason == "changed: v");
  r = f.apply();
  CHECK(r.done == 2);
  CHECK(f.runner.log == Lines{"update T/a", "update T/b"});
  CHECK(f.stored_field("a", "v") == num(2));
  CHECK(f.plan().empty());

  // A breaking field changed: the old version is deleted, then the new one created.
  std::string old_uuid = f.stored()["T/a"].uuid.str();
  f.source.decl("a").fields = {{"v", num(2)}, {"name", str("y")}};
  CHECK(f.plan() == Lines{"delete T/a replace", "create T/a replace", "update T/b"});
  CHECK(f.ws->current_plan().jobs[0].reason == "replace: breaking field name changed");
  r = f.apply();
  CHECK(r.done == 3);
  CHECK(f.runner.log == Lines{"delete T/a", "create T/a", "update T/b"});
  CHECK(f.runner.uuid["delete T/a"] == old_uuid);
  CHECK(f.stored()["T/a"].uuid != old_uuid);
  CHECK(f.stored()["T/a"].uuid == f.runner.uuid["create T/a"]);
  CHECK(f.plan().empty());

  // A node removed: its delete.
  f.source.decls.pop_back();
  CHECK(f.plan() == Lines{"delete T/c"});
  CHECK(f.ws->current_plan().jobs[0].reason == "removed from the pipeline");
  r = f.apply();
  CHECK(r.done == 1);
  CHECK(f.stored().count("T/c") == 0);
  CHECK(f.plan().empty());

  // Destroy: what references a thing is deleted before it.
  CHECK(f.plan(true) == Lines{"delete T/b", "delete T/a"});
  r = f.apply();
  CHECK(r.done == 2);
  CHECK(f.runner.log == Lines{"delete T/b", "delete T/a"});
  CHECK(f.stored().empty());
  CHECK(f.plan() == Lines{"create T/a", "create T/b"});
}

TEST_CASE("a plan made without the lock is made again under it before the apply", "[workspace]") {
  Fixture f;
  f.source.decls = {{"a", {{"v", num(1)}}}};

  SECTION("another workspace applied in between") {
    CHECK(f.plan() == Lines{"create T/a"});
    FakeSource other_source;
    other_source.decls = {{"a", {{"v", num(2)}}}};
    FakeRunner other_runner(&f.loop.loop);
    Workspace other(f.options, other_source, other_runner, &f.loop.loop);
    other.plan(false);
    CHECK(other.apply({}).done == 1);
    CHECK(other_runner.log == Lines{"create T/a"});
    int builds = f.source.builds;
    RunResult r = f.apply();
    CHECK(f.source.builds == builds + 1);
    // What the plan made now says: T/a exists, with v = 2.
    CHECK(f.jobs() == Lines{"update T/a"});
    CHECK(f.runner.log == Lines{"update T/a"});
    CHECK(r.done == 1);
    CHECK(f.stored_field("a", "v") == num(1));
  }

  SECTION("a store forgot an instance in between") {
    f.ws->plan(false);
    CHECK(f.apply().done == 1);
    CHECK(f.plan().empty());
    open_sqlite_state(f.dir.path(), OpenMode::ReadWrite)->forget("T/a");
    RunResult r = f.apply();
    CHECK_FALSE(r.nothing_to_do);
    CHECK(r.done == 1);
    CHECK(f.runner.log == Lines{"create T/a"});
    CHECK(f.stored().count("T/a") == 1);
  }

  SECTION("a plan made under the lock is applied as it is") {
    f.ws->lock();
    CHECK(code_of([&] { lock_state(f.dir.path(), default_workspace, 0); }) == Code::Locked);
    CHECK(f.plan() == Lines{"create T/a"});
    int builds = f.source.builds;
    CHECK(f.apply().done == 1);
    CHECK(f.source.builds == builds);
    // The apply let the lock go.
    CHECK(lock_state(f.dir.path(), default_workspace, 0) != nullptr);
  }

  SECTION("a read ahead of the state that a commit made stale is not used") {
    f.ws->plan(false);
    CHECK(f.apply().done == 1);
    f.options.read_state_ahead = true;
    f.ws->pipeline_at(f.source.source());
    open_sqlite_state(f.dir.path(), OpenMode::ReadWrite)->forget("T/a");
    CHECK(f.plan() == Lines{"create T/a"});
    CHECK(f.source.given_read_state == 1);
    f.ws->pipeline_at(f.source.source());
    CHECK(f.apply().done == 1);  // planned again under the lock, with the new read ahead
    CHECK(f.runner.log == Lines{"create T/a"});
    CHECK(f.source.given_read_state == 2);
    CHECK(f.plan().empty());
  }
}

TEST_CASE("state rm and state mv through the workspace, and an unknown key writes nothing", "[workspace]") {
  Fixture f;
  f.source.decls = {{"a", {{"v", num(1)}}}, {"b", {{"a", ref("a")}}}};
  f.ws->plan(false);
  REQUIRE(f.apply().done == 2);
  // A connection of its own sees whether anything was committed since it last looked.
  auto watch = open_sqlite_state(f.dir.path(), OpenMode::ReadOnly);
  auto token = watch->change_token();
  REQUIRE(token);

  CHECK(code_of([&] { f.ws->state_rm("T/nope"); }) == Code::UnknownKey);
  CHECK(code_of([&] { f.ws->state_mv("T/nope", "T/other"); }) == Code::UnknownKey);
  CHECK(code_of([&] { f.ws->state_mv("T/a", "T/b"); }) == Code::Usage);  // taken
  CHECK(watch->change_token() == token);
  CHECK(f.stored().size() == 2);

  std::string old_b = f.stored()["T/b"].hash.str();
  f.ws->state_mv("T/a", "T/z");
  CHECK(watch->change_token() != token);
  auto rows = f.stored();
  CHECK(rows.count("T/a") == 0);
  REQUIRE(rows.count("T/z") == 1);
  CHECK(rows["T/b"].deps == std::vector<std::string>{"T/z"});
  CHECK(*find_field(rows["T/b"].fields, "a") == ref("z"));
  CHECK(*find_field(rows["T/z"].fields, "identifier") == str("z"));
  CHECK(rows["T/b"].hash != old_b);
  // The renamed rows have the ids the pipeline, renamed the same way, gives them.
  f.source.decls = {{"z", {{"v", num(1)}}}, {"b", {{"a", ref("z")}}}};
  CHECK(f.plan().empty());

  token = watch->change_token();
  CHECK(code_of([&] { f.ws->state_rm("T/a"); }) == Code::UnknownKey);
  CHECK(watch->change_token() == token);
  f.ws->state_rm("T/b");
  CHECK(watch->change_token() != token);
  // The lock was taken for the write only: another ochre may take it now.
  CHECK(lock_state(f.dir.path(), default_workspace, 0) != nullptr);
  rows = f.stored();
  CHECK(rows.size() == 1);
  CHECK(rows.count("T/z") == 1);
  CHECK(f.plan() == Lines{"create T/b"});
}

TEST_CASE("deferred: a read that changes a node's fields stores its new ids", "[workspace]") {
  Fixture f;
  f.runner.at_once = GENERATE(false, true);
  CAPTURE(f.runner.at_once);
  f.source.decls = {{"c", {{"v", num(1)}}}, {"p", {{"c", ref("c")}, {"x", num(1)}}, {}, true}};
  CHECK(f.plan() == Lines{"create T/c", "create T/p deferred"});
  CHECK(f.apply().done == 2);
  CHECK(f.runner.log == Lines{"create T/c", "read T/p", "create T/p"});
  CHECK(f.plan().empty());

  f.source.decl("c").fields = {{"v", num(2)}};
  f.runner.reads["T/p"] = fields_of("p", {{"c", ref("c")}, {"x", num(2)}});
  CHECK(f.plan() == Lines{"update T/c", "update T/p deferred"});
  std::string planned_hash = f.ws->graph()->node(f.ws->graph()->find("T/p")).hash.str();
  RunResult r = f.apply();
  CHECK(r.done == 2);
  CHECK(r.cutoff == 0);
  CHECK(f.runner.log == Lines{"update T/c", "read T/p", "update T/p"});
  CHECK(f.stored_field("p", "x") == num(2));
  CHECK(f.stored()["T/p"].hash != planned_hash);
  // The pipeline now gives at plan time what the read gave: nothing to do.
  f.source.decl("p").fields = {{"c", ref("c")}, {"x", num(2)}};
  CHECK(f.plan().empty());
}

TEST_CASE("deferred: a read that gives back the stored fields needs no hook", "[workspace]") {
  Fixture f;
  f.runner.at_once = GENERATE(false, true);
  CAPTURE(f.runner.at_once);
  f.source.decls = {{"c", {{"v", num(1)}}}, {"p", {{"c", ref("c")}, {"x", num(1)}}, {}, true}};
  f.ws->plan(false);
  REQUIRE(f.apply().done == 2);
  StoredInstance before = f.stored()["T/p"];

  // T/c is replaced as it is (its ids come out the same); T/p is planned as an update
  // for the fields it has at plan time, and its read gives back those stored.
  f.options.replace = {"T/c"};
  f.source.decl("p").fields = {{"c", ref("c")}, {"x", num(5)}};
  f.runner.reads["T/p"] = fields_of("p", {{"c", ref("c")}, {"x", num(1)}});
  CHECK(f.plan() == Lines{"delete T/c replace", "create T/c replace", "update T/p deferred"});
  RunResult r = f.apply();
  CHECK(f.runner.log == Lines{"delete T/c", "create T/c", "read T/p"});
  CHECK(r.done == 2);
  CHECK(r.cutoff == 1);
  CHECK(r.summary == "2 done, 1 unchanged");
  CHECK(f.journal()["T/p"] == "update cutoff");
  StoredInstance after = f.stored()["T/p"];
  CHECK(after.hash == before.hash);
  CHECK(after.uuid == before.uuid);
  CHECK(after.status == Status::Ok);
  CHECK(*find_field(after.fields, "x") == num(1));
}

TEST_CASE("deferred: a cutoff node whose outputs come out the same cuts off its dependents", "[workspace]") {
  Fixture f;
  f.runner.at_once = GENERATE(false, true);
  CAPTURE(f.runner.at_once);
  // c (cutoff) <- p <- q
  f.source.decls = {{"c", {{"v", num(1)}}, {}, false, true}, {"p", {{"c", ref("c")}}}, {"q", {{"p", ref("p")}}}};
  f.runner.outputs["T/c"] = outputs("o1");
  f.runner.outputs["T/p"] = outputs("p1");
  f.ws->plan(false);
  REQUIRE(f.apply().done == 3);
  auto before = f.stored();
  CHECK(before["T/p"].outputs == outputs("p1"));

  f.source.decl("c").fields = {{"v", num(2)}};
  CHECK(f.plan() == Lines{"update T/c", "update T/p deferred", "update T/q deferred"});
  const Graph* g = f.ws->graph();
  std::string p_hash = g->node(g->find("T/p")).hash.str(), q_hash = g->node(g->find("T/q")).hash.str();
  bool same = GENERATE(true, false);
  CAPTURE(same);
  f.runner.outputs["T/c"] = outputs(same ? "o1" : "o2");
  f.runner.outputs["T/p"] = outputs("p2");
  RunResult r = f.apply();
  auto after = f.stored();
  if (same) {
    CHECK(f.runner.log == Lines{"update T/c"});
    CHECK(r.done == 1);
    CHECK(r.cutoff == 2);
    auto journal = f.journal();
    CHECK(journal["T/p"] == "update cutoff");
    CHECK(journal["T/q"] == "update cutoff");
    // The rows take the ids the pipeline has now and keep their outputs.
    CHECK(after["T/p"].hash == p_hash);
    CHECK(after["T/q"].hash == q_hash);
    CHECK(after["T/p"].hash != before["T/p"].hash);
    CHECK(after["T/p"].outputs == outputs("p1"));
    auto versions = f.store()->versions("T/p");
    REQUIRE_FALSE(versions.empty());
    CHECK(versions.front().action == "cutoff");
  } else {
    CHECK(f.runner.log == Lines{"update T/c", "update T/p", "update T/q"});
    CHECK(r.done == 3);
    CHECK(r.cutoff == 0);
    CHECK(f.journal()["T/p"] == "update done");
    CHECK(after["T/p"].hash == p_hash);
    CHECK(after["T/p"].outputs == outputs("p2"));
  }
  CHECK(after["T/c"].outputs == outputs(same ? "o1" : "o2"));
  for (const auto& [key, row] : after) CHECK(row.status == Status::Ok);
  CHECK(f.plan().empty());
}

TEST_CASE("deferred: a read that changes a breaking field replaces within the job", "[workspace]") {
  Fixture f;
  f.runner.at_once = GENERATE(false, true);
  CAPTURE(f.runner.at_once);
  f.source.decls = {{"c", {{"v", num(1)}}}, {"p", {{"c", ref("c")}, {"name", str("n1")}}, {"name"}, true}};
  f.ws->plan(false);
  REQUIRE(f.apply().done == 2);
  std::string old_uuid = f.stored()["T/p"].uuid.str();

  f.source.decl("c").fields = {{"v", num(2)}};
  f.runner.reads["T/p"] = fields_of("p", {{"c", ref("c")}, {"name", str("n2")}});
  CHECK(f.plan() == Lines{"update T/c", "update T/p deferred"});
  RunResult r = f.apply();
  CHECK(f.runner.log == Lines{"update T/c", "read T/p", "delete T/p", "create T/p"});
  CHECK(f.runner.uuid["delete T/p"] == old_uuid);
  CHECK(f.runner.uuid["create T/p"] != old_uuid);
  CHECK(r.done == 2);
  CHECK(f.jobs() == Lines{"update T/c", "create T/p replace deferred"});
  CHECK(f.journal()["T/p"] == "create done");
  StoredInstance p = f.stored()["T/p"];
  CHECK(p.uuid == f.runner.uuid["create T/p"]);
  CHECK(*find_field(p.fields, "name") == str("n2"));
  f.source.decl("p").fields = {{"c", ref("c")}, {"name", str("n2")}};
  CHECK(f.plan().empty());
}

TEST_CASE("deferred: a read that fails fails its job, and the next plan retries it", "[workspace]") {
  Fixture f;
  f.runner.at_once = GENERATE(false, true);
  CAPTURE(f.runner.at_once);
  f.source.decls = {{"c", {{"v", num(1)}}}, {"p", {{"c", ref("c")}}, {}, true}, {"q", {{"p", ref("p")}}}};
  f.ws->plan(false);
  REQUIRE(f.apply().done == 3);

  f.source.decl("c").fields = {{"v", num(2)}};
  JobOutcome failed;
  failed.kind = JobOutcome::Failed;
  failed.error = "cannot read";
  f.runner.read_fails["T/p"] = failed;
  CHECK(f.plan() == Lines{"update T/c", "update T/p deferred", "update T/q deferred"});
  RunResult r = f.apply();
  CHECK(f.runner.log == Lines{"update T/c", "read T/p"});
  CHECK(r.done == 1);
  CHECK(r.failed == 1);
  CHECK(r.skipped == 1);
  auto journal = f.journal();
  CHECK(journal["T/p"] == "update failed");
  CHECK(journal["T/q"] == "update skipped");
  CHECK(f.stored()["T/p"].status == Status::Failed);
  CHECK(f.stored()["T/p"].error == "cannot read");

  f.runner.read_fails.clear();
  CHECK(f.plan() == Lines{"update T/p", "update T/q"});
  r = f.apply();
  CHECK(r.done == 2);
  CHECK(f.runner.log == Lines{"update T/p", "update T/q"});  // read at plan time: nothing ran below it
  CHECK(f.plan().empty());
}

TEST_CASE("an apply after an apply, with no plan in between, plans again under the lock", "[workspace]") {
  Fixture f;
  f.source.decls = {{"a", {{"v", num(1)}}}};
  bool locked = GENERATE(false, true);
  CAPTURE(locked);
  if (locked) f.ws->lock();
  CHECK(f.plan() == Lines{"create T/a"});
  CHECK(f.apply().done == 1);
  RunResult r = f.apply();
  CHECK(r.nothing_to_do);
  CHECK(f.runner.log.empty());
  CHECK(f.store()->runs(0).size() == 1);
}

TEST_CASE("a plan made under a lock that was let go since is made again before the apply", "[workspace]") {
  Fixture f;
  f.source.decls = {{"a", {{"v", num(1)}}}};
  f.ws->plan(false);
  REQUIRE(f.apply().done == 1);
  f.ws->lock();
  CHECK(f.plan().empty());
  f.ws->close_state();
  open_sqlite_state(f.dir.path(), OpenMode::ReadWrite)->forget("T/a");
  RunResult r = f.apply();
  CHECK(r.done == 1);
  CHECK(f.runner.log == Lines{"create T/a"});
  CHECK(f.jobs() == Lines{"create T/a"});
}

TEST_CASE("the phase a run is in is known, for errors with no other place (out of memory in C++)", "[workspace]") {
  Fixture f;
  f.source.decls = {{"a", {}}};
  f.plan();
  CHECK(std::string(current_phase()) == "after planning");
  f.apply();
  CHECK(std::string(current_phase()) == "applying the plan");
}
