// The planner: compares the pipeline graph with the stored state and decides the
// minimum set of jobs (DESIGN.md, "Planning rules"), ordered so that a job runs after
// the jobs it depends on.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/graph.hpp"
#include "engine/moves.hpp"
#include "engine/sensitive.hpp"
#include "engine/state.hpp"

namespace ochre {

struct FieldChange {
  std::string field;
  bool had_before = false, has_after = false;
  Value before, after;
  bool breaking = false;
  std::string via;  // a sub-component that changed while the reference stayed the same
};

// Why a job is planned (the public JobReason, same order).
enum class Why { New, Changed, Breaking, Forced, Retry, Pending, Removed, Destroy };

struct Job {
  Action action = Action::Create;
  std::string key, type, identifier;
  Uuid uuid;               // the new uuid (create/update) or the stored one (delete)
  int node = -1;           // graph node of a create/update, -1 otherwise
  int stored = -1;         // index in Plan::stored: the old version (update, delete)
  bool replace = false;    // one half of a replace (delete + create)
  std::vector<int> deps;   // indices of jobs that must finish first
  Why why = Why::New;
  std::string reason;      // one line: why this job
  std::vector<FieldChange> changes;
  // Decided after the jobs of these sub-components end: read and hashed again then, it
  // may turn out unchanged, cut off, an update or a replace (see the scheduler).
  bool deferred = false;
  std::vector<int> waits_for;  // graph nodes

  // "Type/identifier/uuid.method"
  std::string details() const;
};

struct PlanOptions {
  bool destroy = false;                        // delete instead of apply
  std::vector<std::string> destroy_keys;       // destroy only these (and their dependents)
  std::unordered_set<std::string> protected_keys;  // held by roots of other pipelines
  // The roots of other pipelines: what they reach through stored deps is protected too,
  // found only when something could be deleted (most plans delete nothing).
  std::vector<std::string> protecting_roots;
  std::function<bool(const std::string& type)> type_defined;
  std::vector<std::string> targets;  // plan only these keys and what they depend on
  std::vector<std::string> replace;  // force a replace of these keys
  std::vector<std::string> excludes;  // leave out these keys and what depends on them
};

struct Plan {
  std::vector<StoredInstance> stored;
  KeyIndex stored_index;  // key -> index in `stored`
  std::vector<Job> jobs;  // in execution order: every dep has a smaller index
  // The pipeline's ochre.moved and ochre.removed that change the state (`stored` shows
  // it so changed): written by a run before its jobs, even when it has none.
  StateEdits edits;
  bool empty() const { return jobs.empty(); }
  // The index in `stored` of the instance with this key, or -1.
  int stored_of(std::string_view key) const {
    return stored_index.find(key, [this](int i) -> const std::string& { return stored[i].key; });
  }
  // The same, trying the row after the one `cursor` found last first (KeyIndex::find_next).
  int stored_of(std::string_view key, size_t& cursor) const {
    return stored_index.find_next(key, cursor, stored.size(),
                                  [this](int i) -> const std::string& { return stored[i].key; });
  }
  // The stored instance with this key, or nullptr.
  const StoredInstance* find_stored(std::string_view key) const {
    int i = stored_of(key);
    return i < 0 ? nullptr : &stored[i];
  }
};

Plan make_plan(const Graph& graph, std::vector<StoredInstance> stored, const PlanOptions& opts);
// The same, with `stored_index` = index_stored(stored), made already for the graph.
Plan make_plan(const Graph& graph, std::vector<StoredInstance> stored, const PlanOptions& opts,
               KeyIndex stored_index);
// Key -> position in `stored`.
KeyIndex index_stored(const std::vector<StoredInstance>& stored);

// The first job of each graph node, or -1.
std::vector<int> node_jobs(const Plan& plan, const Graph& graph);
// What happens to a node: "create", "update", "replace" or "none"; `*job_out` is its job
// (or nullptr). `job_of` is node_jobs().
std::string node_action(const Plan& plan, const std::vector<int>& job_of, int node, const Job** job_out);

// The plan as the original's table, or the "nothing to do" line.
std::string format_table(const Plan& plan);
// The same table, given to `write` in pieces of about 64 KB.
void format_table(const Plan& plan, const std::function<void(std::string_view)>& write);
extern const char* const no_changes_text;
// The plan and every node of the graph as JSON. Values of `sensitive` fields are shown
// as "(sensitive)" (engine/sensitive.hpp), here and in explain.
// `inputs`: the files the pipeline read while it loaded. A deferred job shows
// "deferred": true and the sub-components it "waits_for".
std::string format_json(const Plan& plan, const Graph& graph, const Sensitive& sensitive = {},
                        const std::vector<std::string>& inputs = {});
// What the plan changes, for under its table: each job's key and reason, the fields of
// updates and replaces, then plan_counts(). Nothing for an empty plan. In pieces of
// about 64 KB (engine/plan_changes.cpp).
void format_changes(const Plan& plan, const Sensitive& sensitive, const std::function<void(std::string_view)>& write);
// "Plan: N to create, N to update, N to replace, N to delete.\n"
std::string plan_counts(const Plan& plan);
// Why one key is planned as it is: each changed field, old -> new, breaking or not.
std::string format_explain(const Plan& plan, const Graph& graph, const std::string& key,
                           const Sensitive& sensitive = {});

}  // namespace ochre
