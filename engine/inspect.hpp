// The views of the state and the plan that `ochre state`, `log`, `history` and `graph`
// print, as text for people and JSON for machines; and the id recomputation `state mv`
// needs.
#pragma once
#include <string>
#include <vector>

#include "engine/graph.hpp"
#include "engine/planner.hpp"
#include "engine/sensitive.hpp"
#include "engine/state.hpp"

namespace ochre {

std::string format_state_list(const std::vector<StoredInstance>& stored, bool json);
// Values of `sensitive` fields show as "(sensitive)" in state show and history.
std::string format_state_show(const StoredInstance& s, bool json, const Sensitive& sensitive = {});
std::string format_log(StateStore& state, int limit, bool json);
std::string format_history(const std::vector<VersionRecord>& versions, const std::string& key, bool json,
                           const Sensitive& sensitive = {});
// The planned graph as DOT or Mermaid, nodes marked with their planned action.
std::string format_graph(const Plan& plan, const Graph& graph, const std::string& format);

// The rows `state mv FROM TO` writes: FROM renamed to TO (same type), references to it
// rewritten, and the ids of it and of every instance above it recomputed from the
// stored fields, sensitive values hashed under the state's `hash_key`. Throws a user
// error when the move is not possible.
std::vector<StoredInstance> plan_move(const std::vector<StoredInstance>& stored,
                                      const std::string& from, const std::string& to,
                                      const std::string& hash_key = {});

}  // namespace ochre
