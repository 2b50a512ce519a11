// ochre.moved and ochre.removed: what a pipeline declares about its stored instances
// beside its instances. A plan applies them to the rows it read (in memory), so the
// graph is compared with the state as it will be; a run writes them before its jobs.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/state.hpp"

namespace ochre {

// ochre.moved { from = "Type/old", to = "Type/new" }, declared at `site` (file:line).
struct Moved {
  std::string from, to, site;
};

// ochre.removed { key = "Type/id", destroy = false }: with destroy false the instance
// leaves the state without its delete hook; with destroy true it is deleted as an
// orphan is (nothing to do before the plan).
struct Removed {
  std::string key, site;
  bool destroy = false;
};

// One move a run writes: `rows` as plan_move (engine/inspect.hpp) computes them.
struct PlannedMove {
  std::string from, to;
  std::vector<StoredInstance> rows;
};

// What the declarations change in the state before any job runs.
struct StateEdits {
  std::vector<PlannedMove> moves;    // in the order declared
  std::vector<std::string> forgets;  // removed with destroy = false
  bool empty() const { return moves.empty() && forgets.empty(); }
};

// Applies `moved` then `removed` to `stored` and `roots` (source, key) in place, as the
// state will be once they are written, and returns what to write. A move whose `from`
// is not stored, or a removal whose key is not, is left out. A move whose `to` is stored
// already is a user error at its site (Msg::MovedTaken), the rows untouched. Ids are
// recomputed as `state mv` does, sensitive values under the state's `hash_key`.
StateEdits edit_stored(const std::vector<Moved>& moved, const std::vector<Removed>& removed,
                       std::vector<StoredInstance>& stored,
                       std::vector<std::pair<std::string, std::string>>& roots,
                       const std::string& hash_key);

// Writes `edits` in one transaction (on PostgreSQL: each move and removal whole).
void write_edits(StateStore& store, const StateEdits& edits);

}  // namespace ochre
