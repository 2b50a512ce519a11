// ochre.moved and ochre.removed applied to the stored rows (see moves.hpp).
#include "engine/moves.hpp"

#include <algorithm>
#include <unordered_map>

#include "engine/inspect.hpp"
#include "ochre/errors.hpp"

namespace ochre {

StateEdits edit_stored(const std::vector<Moved>& moved, const std::vector<Removed>& removed,
                       std::vector<StoredInstance>& stored,
                       std::vector<std::pair<std::string, std::string>>& roots,
                       const std::string& hash_key) {
  StateEdits edits;
  if (moved.empty() && removed.empty()) return edits;
  auto position = [&stored](const std::string& key) -> long {
    for (size_t i = 0; i < stored.size(); ++i)
      if (stored[i].key == key) return static_cast<long>(i);
    return -1;
  };
  // Checked first, against the rows as read, so that a refused plan changes nothing.
  for (const Moved& m : moved) {
    if (position(m.from) < 0) continue;
    if (position(m.to) >= 0) fail(Msg::MovedTaken, {m.from, m.to, m.to}, m.site);
  }
  for (const Moved& m : moved) {
    long from = position(m.from);
    if (from < 0) continue;  // moved already, or never applied
    if (position(m.to) >= 0) fail(Msg::MovedTaken, {m.from, m.to, m.to}, m.site);
    std::vector<StoredInstance> rows;
    try {
      rows = plan_move(stored, m.from, m.to, hash_key);
    } catch (const Error& e) {
      throw Error(e.code(), e.what(), m.site);
    }
    // The renamed row takes the old one's place (rows come in about the walk's order).
    for (const StoredInstance& r : rows) {
      long at = r.key == m.to ? from : position(r.key);
      if (at >= 0) stored[at] = r;
    }
    for (auto& [source, key] : roots)
      if (key == m.from) key = m.to;
    edits.moves.push_back({m.from, m.to, std::move(rows)});
  }
  for (const Removed& r : removed) {
    if (r.destroy) continue;  // an orphan: the planner deletes it
    long at = position(r.key);
    if (at < 0) continue;
    stored.erase(stored.begin() + at);
    roots.erase(std::remove_if(roots.begin(), roots.end(), [&](const auto& root) { return root.second == r.key; }),
                roots.end());
    edits.forgets.push_back(r.key);
  }
  return edits;
}

void write_edits(StateStore& store, const StateEdits& edits) {
  if (edits.empty()) return;
  store.begin_batch();
  for (const PlannedMove& m : edits.moves) store.move(m.from, m.to, m.rows);
  for (const std::string& key : edits.forgets) store.forget(key);
  store.commit_batch();
}

}  // namespace ochre
