// The scheduler (engine/apply.*) on a real event loop, with a hook runner written here
// instead of Lua: order, failures, -j, Ctrl-C, pending jobs and a commit per job.
#include <catch2/catch.hpp>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/apply.hpp"
#include "engine/planner.hpp"
#include "engine/state.hpp"
#include "unit/temp_state.hpp"
#include "unit/uv_loop.hpp"

using namespace ochre;

namespace {

using Spec = std::vector<std::pair<std::string, std::vector<std::string>>>;

// Nodes "T/<id>" referencing the ids given, declared in order; those nothing references
// are roots.
Graph graph(const Spec& spec) {
  Graph g;
  std::set<std::string> used;
  for (const auto& [id, deps] : spec) {
    Node n;
    n.type = "T";
    n.identifier = id;
    n.key = make_key("T", id);
    n.site = "test";
    Fields f;
    for (size_t i = 0; i < deps.size(); ++i) {
      f.emplace_back("d" + std::to_string(i), Value::of_ref(make_key("T", deps[i])));
      used.insert(deps[i]);
    }
    f.emplace_back("identifier", Value::of_string(id));
    n.fields = std::move(f);
    g.add(std::move(n));
  }
  for (const auto& [id, deps] : spec)
    if (!used.count(id)) g.add_root(g.find(make_key("T", id)));
  g.finalize();
  return g;
}

// a <- b, c <- d (a diamond) and e <- f beside it.
const Spec diamond = {{"a", {}}, {"b", {"a"}}, {"c", {"a"}}, {"d", {"b", "c"}}, {"e", {}}, {"f", {"e"}}};

// n independent leaves l1..ln under one root.
Spec leaves(int n) {
  Spec s;
  std::vector<std::string> all;
  for (int i = 1; i <= n; ++i) {
    s.push_back({"l" + std::to_string(i), {}});
    all.push_back("l" + std::to_string(i));
  }
  s.push_back({"root", all});
  return s;
}

// A hook runner whose jobs end from the event loop: one job a turn of the loop (an idle
// handle), the first started (or the last), unless held; or at once, within start.
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

  enum class Ends { First, Last, AtOnce };
  Ends ends = Ends::First;
  bool hold = false;       // no job ends by itself (the test ends them from on_turn)
  std::map<std::string, JobOutcome> outcomes;  // by key; Done otherwise
  std::function<void(int index)> on_start;     // as each job starts
  std::function<void()> on_turn;               // each turn of the loop, before a job ends

  std::vector<std::string> log;  // "start KEY", "end KEY" in order
  std::vector<int> running;      // in start order
  std::vector<std::string> errors;  // what the scheduler did wrong
  int most_running = 0;
  int abandoned = 0;
  int turns = 0;

  void start(int index, const Job& job, const Plan& plan, const Graph&, Done done) override {
    plan_ = &plan;
    log.push_back("start " + job.key);
    if (done_.count(index) || ended_.count(index)) errors.push_back(job.key + " started twice");
    for (int d : job.deps)
      if (!ended_.count(d) || ended_[d] != JobOutcome::Done)
        errors.push_back(job.key + " started before " + plan.jobs[d].key + " was done");
    running.push_back(index);
    if (commands) start_command(index);
    done_[index] = std::move(done);
    most_running = std::max(most_running, static_cast<int>(running.size()));
    if (on_start) on_start(index);
    if (ends == Ends::AtOnce) end(index);
    else uv_idle_start(&idle_, on_idle);
  }

  void abandon_all() override {
    ++abandoned;
    running.clear();
    done_.clear();
    uv_idle_stop(&idle_);
  }

  std::set<std::string> never_end;  // keys of jobs that end only when stopped
  std::vector<std::string> stopped;  // keys, in order
  std::map<int, double> limits;      // by index: what HookRunner::limit said
  void limit(int index, double seconds) override { limits[index] = seconds; }
  void stop(int index) override {
    stopped.push_back(plan_->jobs[index].key);
    running.erase(std::find(running.begin(), running.end(), index));
    done_.erase(index);
  }

  // Ends running job `index` with its outcome.
  void end(int index) {
    const Job& job = plan_->jobs[index];
    auto it = outcomes.find(job.key);
    JobOutcome o;
    if (it != outcomes.end()) o = it->second;
    if (o.kind == JobOutcome::Done) o.outputs = Value::map();
    running.erase(std::find(running.begin(), running.end(), index));
    ended_[index] = o.kind;
    log.push_back("end " + job.key);
    Done done = std::move(done_[index]);
    done_.erase(index);
    done(o);
  }

  bool has_ended(int index) const { return ended_.count(index) > 0; }

  // Commands, as the Lua runner starts them: when `commands` is set, each hook starts one
  // as it begins, held while the scheduler holds them. `on_release` sees each command go
  // (on the thread that lets it go: the committer's while a hook runs).
  bool commands = false;
  std::function<void(int index)> on_release;
  std::mutex command_mu;
  std::vector<int> released;  // in order

  void hold_commands(bool on) override {
    std::lock_guard<std::mutex> lock(command_mu);
    holding_ = on;
    if (on) return;
    for (int j : held_) release(j);
    held_.clear();
    sealed_ = 0;
  }
  void commands_durable(bool hook_running) override {
    std::lock_guard<std::mutex> lock(command_mu);
    if (!hook_running) sealed_ = held_.size();
    for (size_t i = 0; i < sealed_; ++i) release(held_[i]);
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(sealed_));
    sealed_ = 0;
  }
  bool was_released(int index) {
    std::lock_guard<std::mutex> lock(command_mu);
    return std::count(released.begin(), released.end(), index) > 0;
  }

  // Forgets the jobs of the run before (indices start again).
  void new_run() {
    log.clear();
    ended_.clear();
    most_running = 0;
  }

 private:
  void start_command(int index) {
    std::lock_guard<std::mutex> lock(command_mu);
    sealed_ = held_.size();  // those of the hooks before this one
    if (holding_) held_.push_back(index);
    else release(index);
  }
  void release(int index) {
    released.push_back(index);
    if (on_release) on_release(index);
  }
  bool holding_ = false;
  std::vector<int> held_;
  size_t sealed_ = 0;

  static void on_idle(uv_idle_t* h) {
    auto* self = static_cast<FakeRunner*>(h->data);
    if (++self->turns > 10000) {  // a test that never ends its jobs
      self->errors.push_back("jobs still running after 10000 turns");
      self->hold = false;
    }
    if (self->on_turn) self->on_turn();
    std::vector<int> can_end;
    for (int j : self->running)
      if (!self->never_end.count(self->plan_->jobs[j].key)) can_end.push_back(j);
    if (!self->hold && !can_end.empty())
      self->end(self->ends == Ends::Last ? can_end.back() : can_end.front());
    bool left = false;  // a job that may still end by itself
    for (int j : self->running) left = left || !self->never_end.count(self->plan_->jobs[j].key);
    if (!left) uv_idle_stop(h);
  }

  uv_loop_t* loop_;
  uv_idle_t idle_;
  const Plan* plan_ = nullptr;
  std::map<int, Done> done_;
  std::map<int, JobOutcome::Kind> ended_;
};

JobOutcome outcome(JobOutcome::Kind kind, std::string error) {
  JobOutcome o;
  o.kind = kind;
  o.error = std::move(error);
  return o;
}

// A state in a temporary directory, a loop and a runner on it.
struct Fixture {
  TempState dir;
  std::unique_ptr<StateStore> state = open_sqlite_state(dir.path(), OpenMode::ReadWrite);
  Loop loop;
  FakeRunner runner{&loop.loop};
  ApplyEvents events;
  ApplyOptions options;

  Fixture() {
    options.loop = &loop.loop;
    options.handle_signals = false;
  }

  ApplyReport apply(Plan plan, Graph g) {
    ApplyRun run(plan, g, *state, runner, {"apply", "test"}, options, events);
    run.run_rest();
    ApplyReport report = run.end();
    for (const auto& e : runner.errors) UNSCOPED_INFO(e);
    CHECK(runner.errors.empty());
    return report;
  }

  // The journal of `run`: key -> "OUTCOME" or "OUTCOME: ERROR".
  std::map<std::string, std::string> journal(long long run) {
    std::map<std::string, std::string> out;
    for (const JobRecord& j : state->jobs_of_run(run))
      out[j.key] = j.outcome + (j.error.empty() ? "" : ": " + j.error);
    return out;
  }

  std::map<std::string, Status> statuses() {
    std::map<std::string, Status> out;
    for (const StoredInstance& s : state->load()) out[s.key] = s.status;
    return out;
  }

  int starts() const {
    return static_cast<int>(std::count_if(runner.log.begin(), runner.log.end(),
                                          [](const std::string& l) { return l.rfind("start ", 0) == 0; }));
  }
};

// Where `line` is in `log`, or -1.
int at(const std::vector<std::string>& log, const std::string& line) {
  auto it = std::find(log.begin(), log.end(), line);
  return it == log.end() ? -1 : static_cast<int>(it - log.begin());
}

}  // namespace

TEST_CASE("a job starts only after every job it depends on is done", "[scheduler]") {
  auto ends = GENERATE(FakeRunner::Ends::First, FakeRunner::Ends::Last, FakeRunner::Ends::AtOnce);
  int jobs = GENERATE(1, 2, 4);
  CAPTURE(static_cast<int>(ends), jobs);
  Fixture f;
  f.runner.ends = ends;
  f.options.jobs = jobs;
  Graph g = graph(diamond);
  Plan plan = make_plan(g, {}, {});
  REQUIRE(plan.jobs.size() == 6);
  ApplyReport r = f.apply(plan, g);
  CHECK(r.done == 6);
  CHECK(r.ok());
  CHECK(r.summary() == "6 done");
  CHECK(f.starts() == 6);
  // What the plan's deps say, checked by the runner on every start, is what the graph says.
  using Edges = std::vector<std::pair<std::string, std::string>>;
  for (const auto& [top, dep] : Edges{{"d", "b"}, {"d", "c"}, {"b", "a"}, {"c", "a"}, {"f", "e"}})
    CHECK(at(f.runner.log, "end T/" + dep) < at(f.runner.log, "start T/" + top));
  for (const auto& [key, status] : f.statuses()) CHECK(status == Status::Ok);
  CHECK(f.state->runs(1).at(0).outcome == "done");
}

TEST_CASE("a destroy deletes dependents before what they depend on", "[scheduler]") {
  auto ends = GENERATE(FakeRunner::Ends::First, FakeRunner::Ends::Last);
  CAPTURE(static_cast<int>(ends));
  Fixture f;
  f.options.jobs = 4;
  Graph g = graph(diamond);
  REQUIRE(f.apply(make_plan(g, {}, {}), g).done == 6);
  std::vector<StoredInstance> stored = f.state->load();
  REQUIRE(stored.size() == 6);
  f.runner.new_run();
  f.runner.ends = ends;
  PlanOptions o;
  o.destroy = true;
  Plan plan = make_plan(g, stored, o);
  REQUIRE(plan.jobs.size() == 6);
  for (const Job& j : plan.jobs) CHECK(j.action == Action::Delete);
  ApplyReport r = f.apply(plan, g);
  CHECK(r.done == 6);
  // Each instance's delete starts after the deletes of everything that references it ended.
  for (const StoredInstance& s : stored)
    for (const std::string& dep : s.deps) {
      CAPTURE(s.key, dep);
      CHECK(at(f.runner.log, "end " + s.key) >= 0);
      CHECK(at(f.runner.log, "end " + s.key) < at(f.runner.log, "start " + dep));
    }
  CHECK(f.state->load().empty());
}

TEST_CASE("a failed job's dependents are skipped and the rest still run", "[scheduler]") {
  Fixture f;
  f.options.jobs = 2;
  f.runner.outcomes["T/a"] = outcome(JobOutcome::Failed, "boom");
  Graph g = graph(diamond);
  ApplyReport r = f.apply(make_plan(g, {}, {}), g);
  CHECK(r.done == 2);
  CHECK(r.failed == 1);
  CHECK(r.skipped == 3);
  CHECK(r.pending == 0);
  CHECK(r.waiting == 0);
  CHECK_FALSE(r.ok());
  CHECK(r.summary() == "2 done, 1 failed, 3 skipped");
  CHECK(f.starts() == 3);  // a, e, f
  CHECK(at(f.runner.log, "start T/b") < 0);
  CHECK(at(f.runner.log, "start T/c") < 0);
  CHECK(at(f.runner.log, "start T/d") < 0);
  auto journal = f.journal(r.run);
  CHECK(journal["T/a"] == "failed: boom");
  CHECK(journal["T/b"] == "skipped: T/a failed");
  CHECK(journal["T/c"] == "skipped: T/a failed");
  CHECK((journal["T/d"] == "skipped: T/b was skipped" || journal["T/d"] == "skipped: T/c was skipped"));
  CHECK(journal["T/e"] == "done");
  CHECK(journal["T/f"] == "done");
  std::vector<int> kinds = r.outcome;
  CHECK(std::count(kinds.begin(), kinds.end(), JobOutcome::Skipped) == 3);
  CHECK(f.statuses()["T/a"] == Status::Failed);
  CHECK(f.state->runs(1).at(0).outcome == "failed");
  CHECK(f.state->runs(1).at(0).summary == "2 done, 1 failed, 3 skipped");
}

TEST_CASE("with fail-fast nothing starts after the first failure", "[scheduler]") {
  Fixture f;
  f.options.jobs = 1;
  f.options.fail_fast = true;
  Graph g = graph(diamond);
  Plan plan = make_plan(g, {}, {});
  std::string first = plan.jobs[0].key;  // jobs=1: the first in plan order starts first
  f.runner.outcomes[first] = outcome(JobOutcome::Failed, "boom");
  ApplyReport r = f.apply(plan, g);
  CHECK(f.runner.log == std::vector<std::string>{"start " + first, "end " + first});
  CHECK(r.failed == 1);
  CHECK(r.done == 0);
  CHECK(r.skipped == 5);
  // What depends on the failed job is skipped for it, the rest for the stop.
  std::map<std::string, std::string> expected;
  std::string stopped = "skipped: not started: the run was stopped";
  if (first == "T/a")
    expected = {{"T/b", "skipped: T/a failed"}, {"T/c", "skipped: T/a failed"}, {"T/e", stopped}, {"T/f", stopped}};
  else if (first == "T/e")
    expected = {{"T/a", stopped}, {"T/b", stopped}, {"T/c", stopped}, {"T/d", stopped}, {"T/f", "skipped: T/e failed"}};
  else
    FAIL("the first job is " + first);
  expected[first] = "failed: boom";
  auto journal = f.journal(r.run);
  if (first == "T/a") {
    CHECK((journal["T/d"] == "skipped: T/b was skipped" || journal["T/d"] == "skipped: T/c was skipped"));
    journal.erase("T/d");
  }
  CHECK(journal == expected);
}

TEST_CASE("the job limit is never exceeded and is reached when the graph allows", "[scheduler]") {
  Fixture f;
  auto [jobs, spec, most] = GENERATE(table<int, Spec, int>({
      {1, leaves(10), 1},
      {3, leaves(10), 3},
      {20, leaves(10), 10},  // the root waits for all ten
      {4, Spec{{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"d", {"c"}}}, 1},  // a chain
      {4, Spec{{"a1", {}}, {"a2", {"a1"}}, {"a3", {"a2"}}, {"b1", {}}, {"b2", {"b1"}}, {"b3", {"b2"}}},
       2},  // two chains
  }));
  CAPTURE(jobs, spec.size());
  f.options.jobs = jobs;
  f.runner.ends = GENERATE(FakeRunner::Ends::First, FakeRunner::Ends::Last);
  // The runner counts, as each job starts, those started and not ended.
  std::vector<int> seen;
  f.runner.on_start = [&](int) { seen.push_back(static_cast<int>(f.runner.running.size())); };
  Graph g = graph(spec);
  ApplyReport r = f.apply(make_plan(g, {}, {}), g);
  CHECK(r.done == static_cast<int>(spec.size()));
  CHECK(*std::max_element(seen.begin(), seen.end()) == most);
  CHECK(f.runner.most_running == most);
}

TEST_CASE("the first Ctrl-C starts nothing more and lets running jobs finish", "[scheduler]") {
  Fixture f;
  f.options.jobs = 2;
  f.options.handle_signals = true;
  std::vector<int> signals;
  f.events.interrupted = [&](int n) {
    signals.push_back(n);
    f.runner.log.push_back("interrupted " + std::to_string(n));
  };
  // Both jobs hold until the Ctrl-C is seen, then end one a turn.
  f.runner.hold = true;
  f.runner.on_start = [&](int) {
    if (f.runner.running.size() == 2) raise(SIGINT);
  };
  f.runner.on_turn = [&] {
    if (!signals.empty()) f.runner.hold = false;
  };
  Graph g = graph(leaves(6));
  Plan plan = make_plan(g, {}, {});
  ApplyReport r = f.apply(plan, g);
  CHECK(signals == std::vector<int>{1});
  CHECK(f.starts() == 2);
  int stop = at(f.runner.log, "interrupted 1");
  REQUIRE(stop >= 0);
  CHECK(f.runner.log.size() == 5);  // start, start, interrupted, end, end
  for (int i = stop + 1; i < static_cast<int>(f.runner.log.size()); ++i)
    CHECK(f.runner.log[i].rfind("end ", 0) == 0);
  CHECK(f.runner.abandoned == 0);
  CHECK(r.done == 2);
  CHECK(r.skipped == 5);
  CHECK(r.interrupted == 0);
  std::string first = plan.jobs[0].key, second = plan.jobs[1].key;
  auto journal = f.journal(r.run);
  CHECK(journal[first] == "done");
  CHECK(journal[second] == "done");
  CHECK(journal["T/root"] == "skipped: not started: the run was stopped");
  CHECK(journal.size() == 7);
  CHECK(f.state->runs(1).at(0).outcome == "interrupted");
}

TEST_CASE("a second Ctrl-C abandons the running jobs, recorded as interrupted", "[scheduler]") {
  Fixture f;
  f.options.jobs = 2;
  f.options.handle_signals = true;
  std::vector<int> signals;
  f.events.interrupted = [&](int n) { signals.push_back(n); };
  f.runner.hold = true;
  f.runner.on_start = [&](int) {
    if (f.runner.running.size() == 2) raise(SIGINT);
  };
  Graph g = graph(leaves(6));
  Plan plan = make_plan(g, {}, {});
  std::string first = plan.jobs[0].key, second = plan.jobs[1].key;
  // After the first Ctrl-C the first job ends; then comes the second Ctrl-C.
  f.runner.on_turn = [&] {
    if (signals.size() != 1) return;
    if (f.runner.running.size() == 2) f.runner.end(f.runner.running.front());
    else if (f.runner.running.size() == 1) raise(SIGINT);
  };
  ApplyReport r = f.apply(plan, g);
  CHECK(signals == std::vector<int>{1, 2});
  CHECK(f.runner.abandoned == 1);
  CHECK(f.starts() == 2);
  CHECK(r.done == 1);
  CHECK(r.interrupted == 1);
  CHECK(r.skipped == 5);
  auto journal = f.journal(r.run);
  CHECK(journal[first] == "done");
  CHECK(journal[second] == "interrupted: " + second + ": create was interrupted");
  CHECK(journal["T/root"] == "skipped: " + second + " was interrupted");
  CHECK(journal[plan.jobs[2].key] == "skipped: not started: the run was stopped");
  auto statuses = f.statuses();
  CHECK(statuses[first] == Status::Ok);
  CHECK(statuses[second] == Status::Failed);  // planned again by the next run
  CHECK(f.state->runs(1).at(0).outcome == "interrupted");
}

TEST_CASE("a pending job's dependents wait and the run is not a failure", "[scheduler]") {
  Fixture f;
  f.options.jobs = 2;
  f.runner.outcomes["T/a"] = outcome(JobOutcome::Pending, "waiting for approval");
  Graph g = graph(diamond);
  ApplyReport r = f.apply(make_plan(g, {}, {}), g);
  CHECK(r.done == 2);
  CHECK(r.pending == 1);
  CHECK(r.waiting == 3);
  CHECK(r.skipped == 0);
  CHECK(r.failed == 0);
  CHECK(r.ok());
  CHECK(r.summary() == "2 done, 1 pending, 3 waiting");
  CHECK(at(f.runner.log, "start T/b") < 0);
  CHECK(at(f.runner.log, "start T/c") < 0);
  CHECK(at(f.runner.log, "start T/d") < 0);
  auto journal = f.journal(r.run);
  CHECK(journal["T/a"] == "pending: waiting for approval");
  CHECK(journal["T/b"] == "skipped: waiting: T/a is pending");
  CHECK((journal["T/d"] == "skipped: waiting: T/b is waiting" || journal["T/d"] == "skipped: waiting: T/c is waiting"));
  CHECK(f.statuses()["T/a"] == Status::Pending);
  CHECK(f.state->runs(1).at(0).outcome == "pending");
  // The next plan takes up the pending job and those that waited, nothing else.
  std::vector<std::string> next;
  for (const Job& j : make_plan(g, f.state->load(), {}).jobs) next.push_back(j.key);
  std::sort(next.begin(), next.end());
  CHECK(next == std::vector<std::string>{"T/a", "T/b", "T/c", "T/d"});
}

TEST_CASE("everything that ended is committed before the loop waits", "[scheduler]") {
  Fixture f;
  f.options.jobs = 2;
  f.runner.outcomes["T/e"] = outcome(JobOutcome::Failed, "boom");
  Graph g = graph(diamond);
  Plan plan = make_plan(g, {}, {});
  // Another connection to the state, reading what is committed, in the middle of the run.
  auto reader = open_sqlite_state(f.dir.path(), OpenMode::ReadOnly);
  int reads = 0;
  // Every job that ended is committed with its outcome, every one still running (it
  // waits on the loop) as running.
  f.runner.on_turn = [&] {
    ++reads;
    long long run = reader->runs(1).at(0).id;
    std::map<std::string, std::string> journal;
    for (const JobRecord& j : reader->jobs_of_run(run)) journal[j.key] = j.outcome;
    std::map<std::string, Status> status;
    for (const StoredInstance& s : reader->load()) status[s.key] = s.status;
    for (size_t j = 0; j < plan.jobs.size(); ++j) {
      const std::string& key = plan.jobs[j].key;
      CAPTURE(key);
      bool running = std::count(f.runner.running.begin(), f.runner.running.end(), static_cast<int>(j)) > 0;
      if (running) {
        CHECK(journal[key] == "running");
        CHECK(status[key] == Status::Running);
      } else if (f.runner.has_ended(static_cast<int>(j))) {
        CHECK(journal[key] == (key == "T/e" ? "failed" : "done"));
        CHECK(status[key] == (key == "T/e" ? Status::Failed : Status::Ok));
      }
    }
  };
  ApplyReport r = f.apply(plan, g);
  CHECK(r.done == 4);
  CHECK(r.failed == 1);
  CHECK(r.skipped == 1);
  CHECK(reads >= 5);  // one per job that ends on its own turn
}

TEST_CASE("while a hook runs without waiting, what ended before it is committed within the window",
          "[scheduler]") {
  Fixture f;
  f.runner.ends = FakeRunner::Ends::AtOnce;
  Graph g = graph({{"c0", {}}, {"c1", {"c0"}}, {"c2", {"c1"}}, {"c3", {"c2"}}});
  Plan plan = make_plan(g, {}, {});
  auto reader = open_sqlite_state(f.dir.path(), OpenMode::ReadOnly);
  auto committed_done = [&] {
    std::set<std::string> out;
    for (const JobRecord& j : reader->jobs_of_run(reader->runs(1).at(0).id))
      if (j.outcome == "done") out.insert(j.key);
    return out;
  };
  // The last link's hook takes its time: the committer makes the links before it
  // durable meanwhile. Nothing else commits them: the loop never turns before the end.
  std::set<std::string> seen;
  f.runner.on_start = [&](int j) {
    if (plan.jobs[j].key != "T/c3") return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen.size() < 3 && std::chrono::steady_clock::now() < deadline) {
      seen = committed_done();
      std::this_thread::yield();
    }
  };
  ApplyReport r = f.apply(plan, g);
  CHECK(r.done == 4);
  CHECK(seen == std::set<std::string>{"T/c0", "T/c1", "T/c2"});
  CHECK(f.runner.turns == 0);
  // Hooks that ended at once are recorded whole: started, ended, done.
  for (const JobRecord& j : f.state->jobs_of_run(r.run)) {
    CAPTURE(j.key);
    CHECK(j.outcome == "done");
    CHECK(!j.started.empty());
    CHECK(!j.ended.empty());
  }
}

TEST_CASE("a command a hook starts goes only once its job's start is committed", "[scheduler]") {
  Fixture f;
  f.options.jobs = 4;
  f.runner.commands = true;
  Graph g = graph(leaves(12));
  Plan plan = make_plan(g, {}, {});
  auto reader = open_sqlite_state(f.dir.path(), OpenMode::ReadOnly);
  std::vector<std::string> seen;  // each command's job as committed when it went
  f.runner.on_release = [&](int j) {
    std::string outcome = "none";
    for (const JobRecord& r : reader->jobs_of_run(reader->runs(1).at(0).id))
      if (r.key == plan.jobs[j].key) outcome = r.outcome;
    seen.push_back(plan.jobs[j].key + " " + outcome);
  };
  ApplyReport r = f.apply(plan, g);
  CHECK(r.done == 13);
  REQUIRE(seen.size() == 13);
  for (const auto& s : seen) {
    CAPTURE(s);
    CHECK(s.substr(s.find(' ')) == " running");
  }
}

TEST_CASE("a hook busy without waiting does not hold back the commands of the hooks before it",
          "[scheduler]") {
  Fixture f;
  f.options.jobs = 2;
  f.runner.commands = true;
  Graph g = graph({{"a", {}}, {"b", {}}});
  Plan plan = make_plan(g, {}, {});
  int a = plan.jobs[0].key == "T/a" ? 0 : 1;
  auto reader = open_sqlite_state(f.dir.path(), OpenMode::ReadOnly);
  std::string a_when_released;
  f.runner.on_release = [&](int j) {
    if (j != a) return;
    for (const JobRecord& r : reader->jobs_of_run(reader->runs(1).at(0).id))
      if (r.key == "T/a") a_when_released = r.outcome;
  };
  // b's hook begins after a's, in the same turn, and keeps the loop thread until a's
  // command went (the committer lets it go once a's start is durable).
  bool went_during_b = false;
  f.runner.on_start = [&](int j) {
    if (j == a) return;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(went_during_b = f.runner.was_released(a)) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
  };
  ApplyReport r = f.apply(plan, g);
  CHECK(r.done == 2);
  CHECK(went_during_b);
  CHECK(a_when_released == "running");
}

TEST_CASE("a job past its timeout is stopped and fails, its dependents are skipped, the rest go on",
          "[scheduler][timeout]") {
  Fixture f;
  f.options.jobs = 4;
  Graph g = graph(diamond);
  // T/a never ends by itself: its lifecycle's timeout (or the run's) stops it. T/e's own
  // timeout is longer than the run's.
  f.runner.never_end = {"T/a"};
  Lifecycle quick;
  quick.timeout = 0.05;
  Lifecycle slower;
  slower.timeout = 0.2;
  std::string expect_a = "T/a: create timed out after 0.05 s";
  SECTION("the instance's lifecycle says") { g.set_lifecycle(g.find("T/a"), g.add_lifecycle(quick)); }
  SECTION("the run's default says, an instance's own timeout overrides it") {
    f.options.timeout = 0.05;
    g.set_lifecycle(g.find("T/e"), g.add_lifecycle(slower));
  }
  Plan plan = make_plan(g, {}, {});
  ApplyReport r = f.apply(plan, g);
  CHECK(f.runner.stopped == std::vector<std::string>{"T/a"});
  CHECK(r.failed == 1);
  CHECK(r.skipped == 3);
  CHECK(r.done == 2);
  auto journal = f.journal(r.run);
  CHECK(journal["T/a"] == "failed: " + expect_a);
  CHECK(journal["T/b"] == "skipped: T/a failed");
  CHECK(journal["T/e"] == "done");
  CHECK(journal["T/f"] == "done");
  for (const Job& j : plan.jobs) {
    CAPTURE(j.key);
    double expect = j.key == "T/a" ? 0.05 : j.key == "T/e" && f.options.timeout > 0 ? 0.2
                    : f.options.timeout;
    if (expect > 0 && at(f.runner.log, "start " + j.key) >= 0)
      CHECK(f.runner.limits[&j - &plan.jobs[0]] == expect);
  }
  CHECK(f.state->runs(1).at(0).outcome == "failed");
}

TEST_CASE("a job that ends before its timeout is done, its timer gone", "[scheduler][timeout]") {
  Fixture f;
  f.options.timeout = 30;
  Graph g = graph(diamond);
  ApplyReport r = f.apply(make_plan(g, {}, {}), g);
  CHECK(r.done == 6);
  CHECK(f.runner.stopped.empty());
  CHECK(f.runner.limits.size() == 6);
  CHECK_FALSE(uv_loop_alive(&f.loop.loop));  // no timer left behind
}
