// Runs a plan: each job after its deps, its outcome committed as soon as it ends,
// dependents of a job that did not finish skipped and recorded as such.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/planner.hpp"
#include "engine/state.hpp"

namespace ochre {

// Runs the hook of one job. Implemented by the bindings (Lua) or by a host.
class HookRunner {
 public:
  virtual ~HookRunner() = default;
  // `outcome.outputs` must be set for a finished create/update.
  virtual JobOutcome run(const Job& job, const Plan& plan, const Graph& graph) = 0;
};

struct ApplyEvents {
  std::function<void(int index, const Job& job)> started;
  std::function<void(int index, const Job& job, const JobOutcome& outcome)> finished;
};

struct ApplyReport {
  long long run = 0;
  int done = 0, failed = 0, skipped = 0, pending = 0;
  std::vector<int> outcome;  // JobOutcome::Kind of each job
  bool ok() const { return failed == 0 && skipped == 0; }
  std::string summary() const;
};

// `roots` are recorded as the applied roots of `info.source` (apply), or cleared when a
// whole destroy succeeds (`clear_roots`).
ApplyReport apply_plan(const Plan& plan, const Graph& graph, StateStore& state,
                       HookRunner& runner, const RunInfo& info,
                       const std::vector<std::string>* roots, bool clear_roots,
                       const ApplyEvents& events);

// The instance as a finished create/update of `node` leaves it.
StoredInstance target_of(const Graph& graph, int node);

}  // namespace ochre
