// The planning rules, on graphs built in C++ without Lua.
#include <catch2/catch.hpp>

#include "engine/apply.hpp"
#include "engine/planner.hpp"
#include "ochre/errors.hpp"

using namespace ochre;

namespace {

Node node(const std::string& type, const std::string& id, Fields fields,
          std::vector<std::string> breaks = {}) {
  Node n;
  n.type = type;
  n.identifier = id;
  n.key = make_key(type, id);
  n.breaks = std::move(breaks);
  fields.emplace_back("identifier", Value::of_string(id));
  std::sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  n.fields = std::move(fields);
  n.site = "test";
  return n;
}

// leaf <- mid (breaking) <- top (non-breaking), not finalized yet.
Graph chain_nodes(double p, const std::string& label = "x") {
  Graph g;
  g.add(node("Leaf", "leaf", {{"p", Value::of_number(p)}}, {"p"}));
  g.add(node("Mid", "mid", {{"leaf", Value::of_ref("Leaf/leaf")}}, {"leaf"}));
  int top = g.add(node("Top", "top", {{"mid", Value::of_ref("Mid/mid")}, {"label", Value::of_string(label)}}));
  g.add_root(top);
  return g;
}

Graph chain(double p, const std::string& label = "x") {
  Graph g = chain_nodes(p, label);
  g.finalize();
  return g;
}

// What a successful apply of `g` stores.
std::vector<StoredInstance> applied(const Graph& g) {
  std::vector<StoredInstance> out;
  for (int i = 0; i < (int)g.size(); ++i) out.push_back(target_of(g, i));
  return out;
}

std::vector<std::string> rows(const Plan& p) {
  std::vector<std::string> out;
  for (const Job& j : p.jobs) {
    std::string r = std::string(action_name(j.action)) + " " + j.key;
    for (int d : j.deps) r += " " + std::to_string(d);
    out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_CASE("nothing stored: every node is created, children first", "[planner]") {
  Graph g = chain(1);
  Plan p = make_plan(g, {}, {});
  CHECK(rows(p) == std::vector<std::string>{"create Leaf/leaf", "create Mid/mid 0", "create Top/top 1"});
}

TEST_CASE("same hash plans nothing", "[planner]") {
  Graph g = chain(1);
  CHECK(make_plan(g, applied(g), {}).empty());
  CHECK(format_table(make_plan(g, applied(g), {})) == "No changes needed \xe2\x80\x93 doing nothing!\n");
}

TEST_CASE("a non-breaking change is one update", "[planner]") {
  Plan p = make_plan(chain(1, "y"), applied(chain(1)), {});
  CHECK(rows(p) == std::vector<std::string>{"update Top/top"});
  REQUIRE(p.jobs[0].changes.size() == 1);
  CHECK(p.jobs[0].changes[0].field == "label");
  CHECK_FALSE(p.jobs[0].changes[0].breaking);
}

TEST_CASE("a breaking change climbs breaking links only", "[planner]") {
  Plan p = make_plan(chain(2), applied(chain(1)), {});
  // Mid holds Leaf in a breaking field: replaced. Top holds Mid in a non-breaking one: updated.
  CHECK(rows(p) == std::vector<std::string>{"delete Mid/mid", "delete Leaf/leaf 0", "create Leaf/leaf 1",
                                            "create Mid/mid 0 2", "update Top/top 3"});
  const Job& top = p.jobs[4];
  REQUIRE(top.changes.size() == 1);
  CHECK(top.changes[0].via == "Mid/mid");
}

TEST_CASE("a removed node is deleted after its former dependent stops using it", "[planner]") {
  Graph before;
  before.add(node("Leaf", "old", {{"p", Value::of_number(1)}}));
  before.add(node("Leaf", "gone-child", {}));
  before.add(node("Leaf", "gone", {{"c", Value::of_ref("Leaf/gone-child")}}));
  int top = before.add(node("Top", "top", {{"a", Value::of_ref("Leaf/old")}, {"b", Value::of_ref("Leaf/gone")}}));
  before.add_root(top);
  before.finalize();

  Graph after;
  after.add(node("Leaf", "old", {{"p", Value::of_number(1)}}));
  after.add_root(after.add(node("Top", "top", {{"a", Value::of_ref("Leaf/old")}, {"b", Value::nil()}})));
  after.finalize();

  Plan p = make_plan(after, applied(before), {});
  CHECK(rows(p) == std::vector<std::string>{"update Top/top", "delete Leaf/gone 0", "delete Leaf/gone-child 1"});
  CHECK(p.jobs[1].reason == "removed from the pipeline");
}

TEST_CASE("protected keys and undefined types", "[planner]") {
  Graph empty;
  empty.finalize();
  auto stored = applied(chain(1));
  PlanOptions o;
  o.protected_keys = {"Leaf/leaf"};
  Plan p = make_plan(empty, stored, o);
  CHECK(rows(p) == std::vector<std::string>{"delete Top/top", "delete Mid/mid 0"});

  o.type_defined = [](const std::string& t) { return t != "Mid"; };
  try {
    make_plan(empty, stored, o);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Code::TypeGone);
    CHECK(std::string(e.what()).find("ochre state rm Mid/mid") != std::string::npos);
  }
}

TEST_CASE("another pipeline's roots protect what they reach through stored deps", "[planner]") {
  Graph empty;
  empty.finalize();
  auto stored = applied(chain(1));
  PlanOptions o;
  o.protecting_roots = {"Mid/mid"};  // Mid/mid and, below it, Leaf/leaf
  CHECK(rows(make_plan(empty, stored, o)) == std::vector<std::string>{"delete Top/top"});
  o.destroy = true;
  CHECK(rows(make_plan(empty, stored, o)) == std::vector<std::string>{"delete Top/top"});
  o.protecting_roots = {"Gone/away"};  // a root no longer stored protects nothing
  CHECK(rows(make_plan(empty, stored, o)).size() == 3);
}

TEST_CASE("failed, interrupted and pending jobs are planned again", "[planner]") {
  Graph g = chain(1);
  auto stored = applied(g);
  SECTION("failed update with unchanged fields") {
    stored[2].status = Status::Failed;
    stored[2].action = Action::Update;
    Plan p = make_plan(g, stored, {});
    CHECK(rows(p) == std::vector<std::string>{"update Top/top"});
    CHECK(p.jobs[0].reason == "retry: the last update failed");
  }
  SECTION("interrupted create") {
    stored[0].status = Status::Running;
    stored[0].action = Action::Create;
    Plan p = make_plan(g, stored, {});
    CHECK(rows(p) == std::vector<std::string>{"create Leaf/leaf"});
    CHECK(p.jobs[0].reason == "retry: the last create was interrupted");
  }
  SECTION("pending create") {
    stored[1].status = Status::Pending;
    stored[1].action = Action::Create;
    stored[1].error = "waiting for approval";
    Plan p = make_plan(g, stored, {});
    CHECK(rows(p) == std::vector<std::string>{"create Mid/mid"});
    CHECK(p.jobs[0].reason == "pending: waiting for approval");
  }
  SECTION("failed delete is a replace") {
    stored[0].status = Status::Failed;
    stored[0].action = Action::Delete;
    Plan p = make_plan(g, stored, {});
    CHECK(rows(p) == std::vector<std::string>{"delete Leaf/leaf", "create Leaf/leaf 0"});
  }
}

TEST_CASE("destroy deletes dependents first and with keys only those and their dependents", "[planner]") {
  Graph g = chain(1);
  PlanOptions o;
  o.destroy = true;
  CHECK(rows(make_plan(g, applied(g), o)) ==
        std::vector<std::string>{"delete Top/top", "delete Mid/mid 0", "delete Leaf/leaf 1"});
  o.destroy_keys = {"Mid/mid"};
  CHECK(rows(make_plan(g, applied(g), o)) == std::vector<std::string>{"delete Top/top", "delete Mid/mid 0"});
  o.destroy_keys = {"Nope/x"};
  CHECK_THROWS_AS(make_plan(g, applied(g), o), Error);
}

TEST_CASE("a dependency cycle names its path", "[planner][graph]") {
  Graph g;
  g.add(node("A", "a", {{"b", Value::of_ref("B/b")}}));
  g.add(node("B", "b", {{"a", Value::of_ref("A/a")}}));
  try {
    g.finalize();
    FAIL("expected a cycle");
  } catch (const Error& e) {
    CHECK(e.code() == Code::Cycle);
    CHECK(std::string(e.what()).find("A/a -> B/b -> A/a") != std::string::npos);
  }
}

namespace {

// Finds rows by key, as the state offers them to Graph::finalize.
Graph::StoredLookup lookup_in(const std::vector<StoredInstance>& rows) {
  return [&rows](const std::string& key) -> const StoredInstance* {
    for (const auto& r : rows)
      if (r.key == key) return &r;
    return nullptr;
  };
}

// The rows with ids no hashing could produce: a node that shows one kept its stored ids.
std::vector<StoredInstance> marked(std::vector<StoredInstance> rows, long long run) {
  for (auto& r : rows) {
    r.uuid = "kept-uuid:" + r.key;
    r.hash = "kept-hash:" + r.key;
    r.run = run;
  }
  return rows;
}

// The keys of the nodes that kept their stored (marked) ids, in node order.
std::vector<std::string> kept(const Graph& g) {
  std::vector<std::string> out;
  for (const Node& n : g.nodes()) {
    bool uuid = n.uuid == "kept-uuid:" + n.key, hash = n.hash == "kept-hash:" + n.key;
    CHECK(uuid == hash);
    if (uuid) out.push_back(n.key);
  }
  return out;
}

}  // namespace

TEST_CASE("unchanged instances keep their stored ids without hashing", "[planner][reuse]") {
  auto stored = marked(applied(chain(1)), 1);
  Graph g = chain_nodes(1);
  g.finalize(lookup_in(stored));
  CHECK(kept(g) == std::vector<std::string>{"Leaf/leaf", "Mid/mid", "Top/top"});
  CHECK(make_plan(g, stored, {}).empty());
}

TEST_CASE("ids are hashed again when anything they come from is not what they were computed from",
          "[planner][reuse]") {
  auto stored = marked(applied(chain(1)), 1);
  auto finalized = [&](Graph g) {
    g.finalize(lookup_in(stored));
    return g;
  };
  using Keys = std::vector<std::string>;
  SECTION("a field changed: it and everything above it") {
    Graph g = finalized(chain_nodes(2));
    CHECK(kept(g).empty());
    Graph fresh = chain(2);
    for (int i = 0; i < (int)g.size(); ++i) {
      CHECK(g.node(i).uuid == fresh.node(i).uuid);
      CHECK(g.node(i).hash == fresh.node(i).hash);
    }
  }
  SECTION("a field changed on top: the rest keep theirs") {
    CHECK(kept(finalized(chain_nodes(1, "y"))) == Keys{"Leaf/leaf", "Mid/mid"});
  }
  SECTION("the last job on it did not finish") {
    stored[1].status = Status::Failed;
    CHECK(kept(finalized(chain_nodes(1))) == Keys{"Leaf/leaf"});
  }
  SECTION("its type's breaking fields changed") {
    stored[1].breaks = {};
    CHECK(kept(finalized(chain_nodes(1))) == Keys{"Leaf/leaf"});
  }
  SECTION("stored before the state kept breaking fields") {
    stored[0].breaks_known = false;
    CHECK(kept(finalized(chain_nodes(1))).empty());
  }
  SECTION("a sub-component rewritten by a later run") {
    stored[1].run = 2;  // mid's job finished in run 2, top's did not run then
    CHECK(kept(finalized(chain_nodes(1))) == Keys{"Leaf/leaf", "Mid/mid"});
  }
  SECTION("a sub-component rewritten in the same run") {
    stored[1].run = 2;
    stored[2].run = 2;
    CHECK(kept(finalized(chain_nodes(1))) == Keys{"Leaf/leaf", "Mid/mid", "Top/top"});
  }
  SECTION("a sub-component that is not stored") {
    stored.erase(stored.begin());
    CHECK(kept(finalized(chain_nodes(1))).empty());
  }
}

TEST_CASE("a dependent whose job did not run after its sub-component's update is planned again, "
          "though its own fields are unchanged",
          "[planner][reuse]") {
  auto pair = [](double v) {
    Graph g;
    g.add(node("Leaf", "leaf", {{"v", Value::of_number(v)}}));
    g.add_root(g.add(node("Top", "top", {{"leaf", Value::of_ref("Leaf/leaf")}})));
    return g;
  };
  Graph before = pair(1);
  before.finalize();
  auto stored = applied(before);
  for (auto& r : stored) r.run = 1;
  // Run 2 updated the leaf; the top's update was skipped (a stop, a failure elsewhere).
  Graph changed = pair(2);
  changed.finalize();
  stored[0] = target_of(changed, 0);
  stored[0].run = 2;

  Graph g = pair(2);
  g.finalize(lookup_in(stored));
  CHECK(g.node(0).hash == stored[0].hash);
  CHECK(g.node(1).hash == changed.node(1).hash);
  CHECK(g.node(1).hash != stored[1].hash);
  CHECK(rows(make_plan(g, stored, {})) == std::vector<std::string>{"update Top/top"});
}
