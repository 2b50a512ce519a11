// Lifecycle options applied to a plan: protect (refusing a plan that deletes or
// replaces a protected instance) and the protect flags kept in the state.
#include "engine/lifecycle_plan.hpp"

#include <unordered_set>

#include "ochre/errors.hpp"

namespace ochre {

namespace {
// Whether the instance `key` is protected: as the pipeline now declares it (so a
// lifecycle changed to protect = false lifts it), else as the state recorded it.
bool is_protected(const Plan& plan, const Graph& graph, const std::string& key) {
  int n = graph.find(key);
  if (n >= 0) return graph.lifecycle(n).protect;
  const StoredInstance* st = plan.find_stored(key);
  return st && st->protect;
}
}  // namespace

void refuse_protected(const Plan& plan, const Graph& graph) {
  std::string list;
  std::unordered_set<std::string> named;
  for (const Job& job : plan.jobs) {
    if (job.action != Action::Delete && !job.replace) continue;
    if (!is_protected(plan, graph, job.key) || !named.insert(job.key).second) continue;
    if (!list.empty()) list += '\n';
    list += message(Msg::ProtectedItem, {job.key, job.reason});
  }
  if (!list.empty()) fail(Msg::Protected, {list});
}

std::vector<std::pair<std::string, bool>> protect_changes(const Plan& plan, const Graph& graph) {
  std::vector<std::pair<std::string, bool>> out;
  for (const StoredInstance& st : plan.stored) {
    int n = graph.find(st.key);
    if (n >= 0 && graph.lifecycle(n).protect != st.protect) out.emplace_back(st.key, graph.lifecycle(n).protect);
  }
  return out;
}

}  // namespace ochre
