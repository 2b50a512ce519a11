#include "engine/graph.hpp"

#include <algorithm>

#include "ochre/errors.hpp"
#include "engine/hash.hpp"

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
  index_.emplace(node.key, i);
  nodes_.push_back(std::move(node));
  return i;
}

int Graph::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? -1 : it->second;
}

void Graph::add_root(int node) {
  if (std::find(roots_.begin(), roots_.end(), node) == roots_.end()) roots_.push_back(node);
}

void Graph::finalize() {
  const int n = static_cast<int>(nodes_.size());
  std::vector<int> added_by(n, -1);  // which node last added d to its deps (no repeats)
  for (int i = 0; i < n; ++i) {
    Node& node = nodes_[i];
    node.deps.clear();
    for (const auto& [name, v] : node.fields) {
      v.for_each_ref([&](const std::string& key) {
        int d = find(key);
        if (d < 0) fail(Code::Internal, {"reference to unknown instance " + key});
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

  // Renumber nodes in dependency order.
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
  for (int i = 0; i < n; ++i) index_.emplace(nodes_[i].key, i);

  IdLookup lookup = [this](const std::string& key, Tree tree) -> const std::string& {
    const Node& d = nodes_[index_.at(key)];
    return tree == Tree::Full ? d.hash : d.uuid;
  };
  for (Node& node : nodes_) {
    Ids ids = compute_ids(node.type, node.identifier, node.breaks, node.fields, lookup);
    node.uuid = std::move(ids.uuid);
    node.hash = std::move(ids.hash);
  }
}

}  // namespace ochre
