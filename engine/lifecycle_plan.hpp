// Lifecycle options applied to a plan (engine/lifecycle.cpp).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/graph.hpp"
#include "engine/planner.hpp"

namespace ochre {

// Throws Msg::Protected (exit 2) naming every protected instance the plan would delete
// or replace. Protected: its node's lifecycle says so, or, for an instance the pipeline
// no longer declares, the state recorded it so.
void refuse_protected(const Plan& plan, const Graph& graph);

// (key, protect) of each stored instance whose lifecycle's protect differs from what
// the state holds: written before a run, so the state knows it even when no job runs.
std::vector<std::pair<std::string, bool>> protect_changes(const Plan& plan, const Graph& graph);

}  // namespace ochre
