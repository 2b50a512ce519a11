#include "engine/graph.hpp"

#include <algorithm>

#include "ochre/errors.hpp"
#include "engine/hash.hpp"
#include "engine/state.hpp"

namespace ochre {

std::string make_key(std::string_view type, std::string_view identifier) {
  std::string key;
  key.reserve(type.size() + 1 + identifier.size());
  key += type;
  key += '/';
  key += identifier;
  return key;
}

bool split_key(std::string_view key, std::string& type, std::string& identifier) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  type = key.substr(0, slash);
  identifier = key.substr(slash + 1);
  return true;
}

int Graph::add(Node node) {
  int i = static_cast<int>(nodes_.size());
  nodes_.push_back(std::move(node));
  index_.insert(nodes_[i].key, i, key_of());
  return i;
}

int Graph::add_or_find(Node& node, bool& added) {
  int i = static_cast<int>(nodes_.size());
  // The new key is compared with those already there only: key_of(i) is never asked.
  int existing = index_.insert(node.key, i, key_of());
  added = existing < 0;
  if (!added) return existing;
  nodes_.push_back(std::move(node));
  return i;
}

int Graph::find(std::string_view key) const { return index_.find(key, key_of()); }

void Graph::add_root(int node) {
  if (std::find(roots_.begin(), roots_.end(), node) == roots_.end()) roots_.push_back(node);
}

void Graph::finalize(const StoredLookup& stored) {
  const int n = static_cast<int>(nodes_.size());
  std::vector<int> added_by(n, -1);  // which node last added d to its deps (no repeats)
  for (int i = 0; i < n; ++i) {
    Node& node = nodes_[i];
    if (node.deps_known) continue;
    node.deps.clear();
    for (const auto& [name, v] : node.fields) {
      v.for_each_ref([&](const std::string& key) {
        int d = find(key);
        if (d < 0) fail(Msg::RefUnknown, {key});
        if (added_by[d] != i) {
          added_by[d] = i;
          node.deps.push_back(d);
        }
      });
    }
  }

  // Depth-first post-order, iterative so long chains do not exhaust the stack.
  std::vector<int> order;
  order.reserve(n);
  std::vector<char> mark(n, 0);  // 0 new, 1 on the path, 2 done
  std::vector<std::pair<int, size_t>> stack;
  for (int start = 0; start < n; ++start) {
    if (mark[start]) continue;
    stack.push_back({start, 0});
    mark[start] = 1;
    while (!stack.empty()) {
      auto& [u, next] = stack.back();
      if (next < nodes_[u].deps.size()) {
        int d = nodes_[u].deps[next++];
        if (mark[d] == 1) {
          std::string path = nodes_[d].key;
          bool on = false;
          for (auto& [w, _] : stack) {
            if (w == d) on = true;
            else if (on) path += " -> " + nodes_[w].key;
          }
          path += " -> " + nodes_[d].key;
          fail(Code::Cycle, {path}, nodes_[d].site);
        }
        if (mark[d] == 0) {
          mark[d] = 1;
          stack.push_back({d, 0});
        }
      } else {
        mark[u] = 2;
        order.push_back(u);
        stack.pop_back();
      }
    }
  }

  // Renumber nodes in dependency order (they often come in it: sub-components first).
  bool ordered = true;
  for (int i = 0; i < n && ordered; ++i) ordered = order[i] == i;
  if (!ordered) {
    std::vector<int> new_index(n);
    for (int i = 0; i < n; ++i) new_index[order[i]] = i;
    std::vector<Node> sorted;
    sorted.reserve(n);
    for (int old : order) sorted.push_back(std::move(nodes_[old]));
    nodes_ = std::move(sorted);
    for (Node& node : nodes_)
      for (int& d : node.deps) d = new_index[d];
    for (int& r : roots_) r = new_index[r];
    index_.clear();
    index_.reserve(n);
    for (int i = 0; i < n; ++i) index_.insert(nodes_[i].key, i, key_of());
  }

  // A node's refs are among its deps: a few are looked through before the index.
  const Node* hashing = nullptr;
  IdLookup lookup = [&](const std::string& key, Tree tree) -> std::string_view {
    const Node* d = nullptr;
    if (hashing->deps.size() <= 8)
      for (int i : hashing->deps)
        if (nodes_[i].key == key) d = &nodes_[i];
    if (!d) d = &nodes_[find(key)];
    return tree == Tree::Full ? d->hash.view() : d->uuid.view();
  };
  // Whether a node may keep the ids stored with it (`st`) without hashing. Ids are a
  // function of the key, the type's breaking fields, the fields and the hashes of the
  // sub-components (a hash determines its uuid), so they hold while those are the ones
  // the stored ids were computed from. The state has the breaks and the fields; for the
  // sub-components, run numbers tell. A row with status ok was last written by a job
  // that finished in run st.run, after the jobs of all its sub-components in that run:
  // each sub-component either had a job then, which wrote its row with that run's
  // number, or had none, its stored hash being the one used. So a sub-component row
  // with no later run holds the hash this instance's ids were computed from; if it is
  // also its hash now, nothing changed.
  std::vector<const StoredInstance*> stored_row(n, nullptr);
  auto keeps_stored_ids = [&](const Node& node, const StoredInstance& st) {
    if (st.status != Status::Ok || !st.breaks_known || st.breaks != node.breaks) return false;
    for (int d : node.deps) {
      const StoredInstance* ds = stored_row[d];
      if (!ds || ds->run > st.run || ds->hash != nodes_[d].hash) return false;
    }
    return st.fields == node.fields;  // their encodings, as a rule
  };
  for (int i = 0; i < n; ++i) {
    Node& node = nodes_[i];
    const StoredInstance* st = stored ? stored(node.key) : nullptr;
    stored_row[i] = st;
    if (st && keeps_stored_ids(node, *st)) {
      node.uuid = st->uuid;
      node.hash = st->hash;
      continue;
    }
    hashing = &node;
    Ids ids = compute_ids(node.type, node.identifier, node.breaks, node.fields, lookup, node.sensitive, hash_key_);
    node.uuid = std::move(ids.uuid);
    node.hash = std::move(ids.hash);
    node.fields.drop_decoded();  // hashed: the encoding is all a first apply needs
  }
}

Ids Graph::ids(int n, const IdLookup& lookup) const {
  const Node& node = nodes_[n];
  IdLookup current = [&](const std::string& key, Tree tree) -> std::string_view {
    const Node* d = nullptr;
    for (int i : node.deps)
      if (nodes_[i].key == key) d = &nodes_[i];
    if (!d) d = &nodes_[find(key)];
    return tree == Tree::Full ? d->hash.view() : d->uuid.view();
  };
  return compute_ids(node.type, node.identifier, node.breaks, node.fields, lookup ? lookup : current,
                     node.sensitive, hash_key_);
}

void Graph::set_ids(int n, Ids ids) {
  nodes_[n].uuid = std::move(ids.uuid);
  nodes_[n].hash = std::move(ids.hash);
}

}  // namespace ochre
