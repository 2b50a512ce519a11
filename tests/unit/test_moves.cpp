// ochre.moved and ochre.removed applied to stored rows (engine/moves.hpp), without Lua.
#include <catch2/catch.hpp>

#include "engine/apply.hpp"
#include "engine/moves.hpp"
#include "engine/planner.hpp"
#include "ochre/errors.hpp"

using namespace ochre;

namespace {

using Roots = std::vector<std::pair<std::string, std::string>>;

Node node(const std::string& type, const std::string& id, Fields fields) {
  Node n;
  n.type = type;
  n.identifier = id;
  n.key = make_key(type, id);
  fields.emplace_back("identifier", Value::of_string(id));
  std::sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  n.fields = std::move(fields);
  n.site = "test";
  return n;
}

// Db/<db> used by App/app, as a successful apply stores them.
Graph pipeline(const std::string& db) {
  Graph g;
  g.add(node("Db", db, {{"size", Value::of_number(2)}}));
  int app = g.add(node("App", "app", {{"db", Value::of_ref("Db/" + db)}}));
  g.add_root(app);
  g.finalize();
  return g;
}

std::vector<StoredInstance> applied(const Graph& g) {
  std::vector<StoredInstance> out;
  for (int i = 0; i < (int)g.size(); ++i) out.push_back(target_of(g, i));
  return out;
}

std::vector<std::string> keys(const std::vector<StoredInstance>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.key);
  return out;
}

}  // namespace

TEST_CASE("moved: the stored rows are renamed with the ids a pipeline renamed the same way has", "[moves]") {
  Graph before = pipeline("old"), after = pipeline("new");
  auto stored = applied(before);
  Roots roots = {{"p.lua", "App/app"}, {"other.lua", "Db/old"}};
  StateEdits edits = edit_stored({{"Db/old", "Db/new", "p.lua:1"}}, {}, stored, roots, "");
  REQUIRE(edits.moves.size() == 1);
  CHECK(edits.forgets.empty());
  CHECK(keys(stored) == std::vector<std::string>{"Db/new", "App/app"});
  Plan plan = make_plan(after, stored, {});
  CHECK(plan.empty());  // no delete, no create: ids as the renamed pipeline computes them
  CHECK(roots == Roots{{"p.lua", "App/app"}, {"other.lua", "Db/new"}});
  // Without the move, the same pipeline deletes and creates.
  CHECK_FALSE(make_plan(after, applied(before), {}).empty());
}

TEST_CASE("moved: chained moves apply in order, an absent from is ignored", "[moves]") {
  auto stored = applied(pipeline("a"));
  Roots roots;
  StateEdits edits = edit_stored({{"Db/a", "Db/b", "p:1"}, {"Db/b", "Db/c", "p:2"}, {"Db/zz", "Db/y", "p:3"}}, {},
                                 stored, roots, "");
  CHECK(edits.moves.size() == 2);
  CHECK(keys(stored) == std::vector<std::string>{"Db/c", "App/app"});
}

TEST_CASE("moved: a to that is stored already is refused at the declaration, the rows untouched", "[moves]") {
  auto stored = applied(pipeline("a"));
  auto b = applied(pipeline("b"));
  stored.push_back(b[0]);
  auto copy = keys(stored);
  Roots roots;
  try {
    edit_stored({{"Db/a", "Db/b", "p.lua:7"}}, {}, stored, roots, "");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.where() == "p.lua:7");
    CHECK(std::string(e.what()) == "ochre.moved from Db/a to Db/b: the state already holds Db/b; remove one of them first");
    CHECK(e.kind() == ErrorKind::User);
  }
  CHECK(keys(stored) == copy);
}

TEST_CASE("removed: destroy = false drops the row and its roots, destroy = true leaves it to the planner",
          "[moves]") {
  auto stored = applied(pipeline("a"));
  Roots roots = {{"p.lua", "App/app"}, {"p.lua", "Db/a"}};
  StateEdits edits = edit_stored({}, {{"Db/a", "p:1", false}, {"App/app", "p:2", true}, {"Db/none", "p:3", false}},
                                 stored, roots, "");
  CHECK(edits.forgets == std::vector<std::string>{"Db/a"});
  CHECK(keys(stored) == std::vector<std::string>{"App/app"});
  CHECK(roots == Roots{{"p.lua", "App/app"}});
}
