#include "engine/planner.hpp"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "engine/canonical.hpp"
#include "ochre/errors.hpp"

namespace ochre {

std::string Job::details() const {
  return key + "/" + uuid + "." + action_name(action);
}

namespace {

class Planner {
 public:
  Planner(const Graph& g, std::vector<StoredInstance> stored, const PlanOptions& o, KeyIndex index)
      : g_(g), o_(o) {
    plan_.stored = std::move(stored);
    plan_.stored_index = std::move(index);
  }

  Plan run() {
    node_job_.assign(g_.size(), -1);
    delete_job_.assign(plan_.stored.size(), -1);
    // At most a job a node, as a rule (a destroy: a job a stored instance). Jobs are
    // large and many: growing the vector would hold two copies for a moment.
    plan_.jobs.reserve(o_.destroy ? plan_.stored.size() : g_.size());
    find_excluded();
    if (o_.destroy) plan_destroy();
    else plan_apply();
    check_excluded();
    if (!o_.destroy) mark_deferred();
    link();
    order();
    return std::move(plan_);
  }

 private:
  // A create or update whose sub-components have jobs of their own is decided after them
  // (the scheduler reads and hashes it again then) when that can change anything: it has
  // a read hook, or one of those sub-components is cutoff or deferred itself (its ids may
  // come out other than planned). Nodes come sub-components first.
  void mark_deferred() {
    std::vector<char> deferred(g_.size(), 0);
    for (int n = 0; n < static_cast<int>(g_.size()); ++n) {
      if (node_job_[n] < 0) continue;
      const Node& node = g_.node(n);
      Job& j = plan_.jobs[node_job_[n]];
      bool may_change = false;
      for (int d : node.deps) {
        if (node_job_[d] < 0) continue;
        j.waits_for.push_back(d);
        may_change = may_change || node.has_read || g_.node(d).cutoff || deferred[d];
      }
      if (!may_change) j.waits_for.clear();
      j.deferred = may_change;
      deferred[n] = may_change ? 1 : 0;
    }
  }

  int stored_of(const std::string& key) const { return plan_.stored_of(key); }

  // --exclude: the keys given and everything that depends on them, in the pipeline or
  // in the state, are left out of the plan.
  void find_excluded() {
    if (o_.excludes.empty()) return;
    std::unordered_map<std::string, std::vector<std::string>> users;
    for (const Node& node : g_.nodes())
      for (int d : node.deps) users[g_.node(d).key].push_back(node.key);
    for (const StoredInstance& st : plan_.stored)
      for (const auto& d : st.deps) users[d].push_back(st.key);
    std::vector<std::pair<std::string, std::string>> todo;  // (key, the --exclude it is from)
    for (const auto& k : o_.excludes) {
      if (g_.find(k) < 0 && stored_of(k) < 0) fail(Msg::UnknownKeyAnywhere, {k});
      todo.emplace_back(k, k);
    }
    while (!todo.empty()) {
      auto [key, from] = std::move(todo.back());
      todo.pop_back();
      if (!excluded_.emplace(key, from).second) continue;
      for (const auto& u : users[key]) todo.emplace_back(u, from);
    }
  }
  bool excluded(const std::string& key) const { return !excluded_.empty() && excluded_.count(key); }

  // What is excluded stays as it is: nothing it uses may be deleted under it.
  void check_excluded() {
    for (const auto& [key, from] : excluded_) {
      int s = stored_of(key);
      if (s < 0) continue;
      for (const auto& d : plan_.stored[s].deps) {
        int ds = stored_of(d);
        if (ds >= 0 && delete_job_[ds] >= 0) fail(Msg::ExcludeDeleted, {from, key, d, d});
      }
    }
  }

  // Whether stored instance `s` is held by another pipeline: named in protected_keys, or
  // reached from protecting_roots through stored deps (walked once, when first asked).
  bool is_protected(int s) {
    if (protected_.empty()) {
      protected_.assign(plan_.stored.size(), 0);
      std::vector<int> todo;
      for (const auto& k : o_.protecting_roots)
        if (int r = stored_of(k); r >= 0) todo.push_back(r);
      while (!todo.empty()) {
        int r = todo.back();
        todo.pop_back();
        if (protected_[r]) continue;
        protected_[r] = 1;
        for (const auto& d : plan_.stored[r].deps)
          if (int ds = stored_of(d); ds >= 0) todo.push_back(ds);
      }
    }
    return protected_[s] || o_.protected_keys.count(plan_.stored[s].key);
  }

  int add_job(Job job) {
    plan_.jobs.push_back(std::move(job));
    return (int)plan_.jobs.size() - 1;
  }

  int add_delete(int s, Why why, std::string reason, bool replace) {
    const StoredInstance& st = plan_.stored[s];
    if (o_.type_defined && !o_.type_defined(st.type))
      fail(Code::TypeGone, {st.key, st.type, st.key});
    Job j;
    j.action = Action::Delete;
    j.key = st.key;
    j.type = st.type;
    j.identifier = st.identifier;
    j.uuid = st.uuid;
    j.stored = s;
    j.replace = replace;
    j.why = why;
    j.reason = std::move(reason);
    int id = add_job(std::move(j));
    delete_job_[s] = id;
    return id;
  }

  int add_node_job(int n, Action action, int s, Why why, std::string reason, std::vector<FieldChange> changes) {
    const Node& node = g_.node(n);
    Job j;
    j.action = action;
    j.key = node.key;
    j.type = node.type;
    j.identifier = node.identifier;
    j.uuid = node.uuid;
    j.node = n;
    j.stored = s;
    j.why = why;
    j.reason = std::move(reason);
    j.changes = std::move(changes);
    int id = add_job(std::move(j));
    node_job_[n] = id;
    return id;
  }

  std::vector<FieldChange> diff(const Node& node, const StoredInstance& st) const {
    std::vector<FieldChange> out;
    auto is_breaking = [&](const std::string& f) {
      return std::find(node.breaks.begin(), node.breaks.end(), f) != node.breaks.end();
    };
    auto a = st.fields.begin(), ae = st.fields.end();
    auto b = node.fields.begin(), be = node.fields.end();
    while (a != ae || b != be) {
      FieldChange c;
      if (b == be || (a != ae && a->first < b->first)) {
        c.field = a->first;
        c.had_before = true;
        c.before = a->second;
        ++a;
      } else if (a == ae || b->first < a->first) {
        c.field = b->first;
        c.has_after = true;
        c.after = b->second;
        ++b;
      } else {
        c.field = a->first;
        c.had_before = c.has_after = true;
        c.before = a->second;
        c.after = b->second;
        ++a;
        ++b;
        if (c.before == c.after) {
          // Same reference: did something below it change?
          std::string via;
          bool uuid_changed = false;
          c.after.for_each_ref([&](const std::string& k) {
            int d = g_.find(k);
            if (d < 0 || !via.empty()) return;
            int ds = stored_of(k);
            if (ds < 0 || plan_.stored[ds].hash != g_.node(d).hash || node_job_[d] >= 0) {
              via = k;
              uuid_changed = ds < 0 || plan_.stored[ds].uuid != g_.node(d).uuid;
            }
          });
          if (via.empty()) continue;
          c.via = via;
          c.breaking = is_breaking(c.field) && uuid_changed;
          out.push_back(std::move(c));
          continue;
        }
      }
      c.breaking = is_breaking(c.field);
      out.push_back(std::move(c));
    }
    // The changes keep what they show: the decoded fields go back to their encodings
    // (a change at the bottom of a 100,000-long chain diffs every link).
    st.fields.drop_decoded();
    node.fields.drop_decoded();
    return out;
  }

  static std::string names(const std::vector<FieldChange>& changes, bool breaking_only) {
    std::string out;
    for (const auto& c : changes) {
      if (breaking_only && !c.breaking) continue;
      if (!out.empty()) out += ", ";
      out += c.field;
    }
    return out;
  }

  // With targets, only they and what they depend on are planned.
  std::vector<char> in_scope() const {
    if (o_.targets.empty()) return std::vector<char>(g_.size(), 1);
    std::vector<char> scope(g_.size(), 0);
    std::vector<int> todo;
    for (const auto& k : o_.targets) {
      int n = g_.find(k);
      if (n < 0) fail(Msg::UnknownKeyInPipeline, {k});
      todo.push_back(n);
    }
    while (!todo.empty()) {
      int n = todo.back();
      todo.pop_back();
      if (scope[n]) continue;
      scope[n] = 1;
      for (int d : g_.node(n).deps) todo.push_back(d);
    }
    return scope;
  }

  bool forced(const std::string& key) const {
    return std::find(o_.replace.begin(), o_.replace.end(), key) != o_.replace.end();
  }

  void plan_apply() {
    for (const auto& k : o_.replace)
      if (g_.find(k) < 0) fail(Msg::UnknownKeyInPipeline, {k});
    std::vector<char> scope = in_scope();
    std::vector<char> in_graph(plan_.stored.size(), 0);
    size_t cursor = 0;  // rows come in about the order of the nodes
    for (int n = 0; n < (int)g_.size(); ++n) {
      const Node& node = g_.node(n);
      int s = plan_.stored_of(node.key, cursor);
      if (s >= 0) in_graph[s] = 1;
      if (!scope[n] || excluded(node.key)) continue;
      if (s < 0) {
        add_node_job(n, Action::Create, -1, Why::New, "new", {});
        continue;
      }
      const StoredInstance& st = plan_.stored[s];
      std::string retry;
      Why retry_why = st.status == Status::Pending ? Why::Pending : Why::Retry;
      if (st.status != Status::Ok) {
        retry = st.status == Status::Pending ? "pending: " + st.error
                : st.status == Status::Running || st.error == "interrupted"
                    ? std::string("retry: the last ") + action_name(st.action) + " was interrupted"
                    : std::string("retry: the last ") + action_name(st.action) + " failed";
      }
      if (st.status != Status::Ok && st.action == Action::Create) {
        add_node_job(n, Action::Create, s, retry_why, retry, {});
        continue;
      }
      bool replace = st.uuid != node.uuid || forced(node.key) ||
                     (st.status != Status::Ok && st.action == Action::Delete);
      if (replace) {
        auto changes = diff(node, st);
        std::string why = st.uuid != node.uuid
                              ? "replace: breaking field " + names(changes, true) + " changed"
                          : forced(node.key) ? "replace: asked for with --replace"
                                             : retry;
        Why w = st.uuid != node.uuid ? Why::Breaking : forced(node.key) ? Why::Forced : retry_why;
        int d = add_delete(s, w, why, true);
        int c = add_node_job(n, Action::Create, s, w, why, std::move(changes));
        plan_.jobs[c].replace = true;
        plan_.jobs[c].deps.push_back(d);
      } else if (st.hash != node.hash || st.status != Status::Ok) {
        auto changes = diff(node, st);
        std::string why = st.status != Status::Ok ? retry : "changed: " + names(changes, false);
        add_node_job(n, Action::Update, s, st.status != Status::Ok ? retry_why : Why::Changed, why, std::move(changes));
      }
    }
    if (!o_.targets.empty()) return;  // a targeted plan deletes nothing outside its scope
    if (std::find(in_graph.begin(), in_graph.end(), 0) == in_graph.end()) return;
    for (int s : stored_order()) {
      if (in_graph[s] || is_protected(s) || excluded(plan_.stored[s].key)) continue;
      add_delete(s, Why::Removed, "removed from the pipeline", false);
    }
  }

  void plan_destroy() {
    std::vector<char> doomed(plan_.stored.size(), 0);
    if (!o_.destroy_keys.empty()) {
      std::unordered_map<std::string, std::vector<int>> dependents;
      for (int s = 0; s < (int)plan_.stored.size(); ++s)
        for (const auto& d : plan_.stored[s].deps) dependents[d].push_back(s);
      std::vector<int> todo;
      for (const auto& k : o_.destroy_keys) {
        int s = stored_of(k);
        if (s < 0) fail(Msg::UnknownKeyNotStored, {k});
        todo.push_back(s);
      }
      while (!todo.empty()) {
        int s = todo.back();
        todo.pop_back();
        if (doomed[s]) continue;
        doomed[s] = 1;
        for (int t : dependents[plan_.stored[s].key]) todo.push_back(t);
      }
    } else {
      for (int s = 0; s < (int)plan_.stored.size(); ++s)
        doomed[s] = !is_protected(s);
    }
    for (int s : stored_order())
      if (doomed[s] && !excluded(plan_.stored[s].key)) add_delete(s, Why::Destroy, "destroy", false);
  }

  // Stored instances with dependents before their deps (the order deletions run in).
  // The stored instances by key: the state gives them in no particular order, and
  // deletions are ordered (ties broken) as if by key. Sorted when first needed.
  const std::vector<int>& by_key() {
    if (by_key_.size() != plan_.stored.size()) {
      by_key_.resize(plan_.stored.size());
      for (int i = 0; i < (int)by_key_.size(); ++i) by_key_[i] = i;
      std::sort(by_key_.begin(), by_key_.end(),
                [&](int a, int b) { return plan_.stored[a].key < plan_.stored[b].key; });
    }
    return by_key_;
  }

  std::vector<int> stored_order() {
    int n = (int)plan_.stored.size();
    std::vector<int> post;
    std::vector<char> mark(n, 0);
    std::vector<std::pair<int, size_t>> stack;
    for (int start : by_key()) {
      if (mark[start]) continue;
      mark[start] = 1;
      stack.push_back({start, 0});
      while (!stack.empty()) {
        auto& [u, next] = stack.back();
        const auto& deps = plan_.stored[u].deps;
        if (next < deps.size()) {
          int d = stored_of(deps[next++]);
          if (d >= 0 && !mark[d]) {
            mark[d] = 1;
            stack.push_back({d, 0});
          }
        } else {
          post.push_back(u);
          stack.pop_back();
        }
      }
    }
    std::reverse(post.begin(), post.end());
    return post;
  }

  bool reaches(int from, int to) const {
    std::vector<char> seen(plan_.jobs.size(), 0);
    std::vector<int> todo{from};
    while (!todo.empty()) {
      int j = todo.back();
      todo.pop_back();
      if (j == to) return true;
      if (seen[j]) continue;
      seen[j] = 1;
      for (int d : plan_.jobs[j].deps) todo.push_back(d);
    }
    return false;
  }

  static void add_dep(Job& j, int d) {
    if (std::find(j.deps.begin(), j.deps.end(), d) == j.deps.end()) j.deps.push_back(d);
  }

  void link() {
    // Creates and updates run after the jobs of their sub-components. A node's deps are
    // distinct, and so are their jobs: no duplicate to look for.
    for (auto& job : plan_.jobs) {
      if (job.node < 0) continue;
      for (int d : g_.node(job.node).deps)
        if (node_job_[d] >= 0) job.deps.push_back(node_job_[d]);
    }
    if (std::find_if(plan_.jobs.begin(), plan_.jobs.end(),
                     [](const Job& j) { return j.action == Action::Delete; }) == plan_.jobs.end())
      return;
    // A deletion runs after the deletions of what depended on it.
    std::vector<std::pair<int, int>> soft;
    for (int s : by_key()) {
      for (const auto& dk : plan_.stored[s].deps) {
        int d = stored_of(dk);
        if (d < 0 || delete_job_[d] < 0) continue;
        if (delete_job_[s] >= 0) add_dep(plan_.jobs[delete_job_[d]], delete_job_[s]);
        // A removed instance goes after its former dependents stopped using it.
        int n = g_.find(plan_.stored[s].key);
        if (!plan_.jobs[delete_job_[d]].replace && n >= 0 && node_job_[n] >= 0)
          soft.push_back({delete_job_[d], node_job_[n]});
      }
    }
    for (auto [job, after] : soft)
      if (!reaches(after, job)) add_dep(plan_.jobs[job], after);
  }

  // Renumbers jobs in a stable topological order.
  void order() {
    int n = (int)plan_.jobs.size();
    std::vector<int> indeg(n, 0);
    std::vector<std::vector<int>> users(n);
    for (int j = 0; j < n; ++j)
      for (int d : plan_.jobs[j].deps) {
        ++indeg[j];
        users[d].push_back(j);
      }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int j = 0; j < n; ++j)
      if (!indeg[j]) ready.push(j);
    std::vector<int> order;
    while (!ready.empty()) {
      int j = ready.top();
      ready.pop();
      order.push_back(j);
      for (int u : users[j])
        if (--indeg[u] == 0) ready.push(u);
    }
    if ((int)order.size() != n) fail(Msg::PlanCycle);
    std::vector<int> pos(n);
    for (int i = 0; i < n; ++i) pos[order[i]] = i;
    // Moved into place cycle by cycle (position i takes job order[i]): no second vector.
    auto& jobs = plan_.jobs;
    std::vector<char> placed(n, 0);
    for (int i = 0; i < n; ++i) {
      if (placed[i]) continue;
      Job first = std::move(jobs[i]);
      int j = i;
      while (order[j] != i) {
        jobs[j] = std::move(jobs[order[j]]);
        placed[j] = 1;
        j = order[j];
      }
      jobs[j] = std::move(first);
      placed[j] = 1;
    }
    for (auto& job : jobs) {
      for (int& d : job.deps) d = pos[d];
      std::sort(job.deps.begin(), job.deps.end());
    }
  }

  const Graph& g_;
  const PlanOptions& o_;
  Plan plan_;
  std::vector<char> protected_;  // by stored instance, once is_protected has walked
  std::vector<int> by_key_;
  std::vector<int> node_job_;    // graph node -> its create/update job
  std::vector<int> delete_job_;  // stored instance -> its delete job
  std::unordered_map<std::string, std::string> excluded_;  // key -> the --exclude it is from
};

}  // namespace

KeyIndex index_stored(const std::vector<StoredInstance>& stored) {
  KeyIndex index;
  index.reserve(stored.size());
  auto key_of = [&](int i) -> const std::string& { return stored[i].key; };
  for (int i = 0; i < static_cast<int>(stored.size()); ++i) index.insert(stored[i].key, i, key_of);
  return index;
}

Plan make_plan(const Graph& graph, std::vector<StoredInstance> stored, const PlanOptions& opts) {
  KeyIndex index = index_stored(stored);
  return Planner(graph, std::move(stored), opts, std::move(index)).run();
}

Plan make_plan(const Graph& graph, std::vector<StoredInstance> stored, const PlanOptions& opts,
               KeyIndex stored_index) {
  return Planner(graph, std::move(stored), opts, std::move(stored_index)).run();
}

}  // namespace ochre
