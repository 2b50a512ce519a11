// The pipeline graph: one node per instance (Type/identifier), edges from a node to the
// sub-components its fields reference. Nodes are kept in dependency order.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "engine/key_index.hpp"
#include "engine/lifecycle.hpp"
#include "ochre/value.hpp"

namespace ochre {

struct StoredInstance;

struct Node {
  std::string type;
  std::string identifier;
  std::string key;                  // "Type/identifier"
  std::vector<std::string> breaks;  // in declaration order
  std::vector<std::string> sensitive;  // fields never shown (still hashed and stored)
  PackedFields fields;              // sorted by name, "identifier" included
  std::vector<int> deps;            // indices of the nodes referenced by fields
  // Set by a builder that gives `deps` itself, in the order finalize would resolve the
  // refs (fields by name, depth first, each node once): finalize then reads no fields.
  bool deps_known = false;
  Uuid uuid;
  Digest hash;
  bool has_read = false;  // its type has a read hook: it is read again before its job runs
  bool cutoff = false;    // its dependents react to its outputs, not its fields
  int handle = -1;        // the embedder's handle for this instance (e.g. a Lua reference)
  int lifecycle = 0;      // index in Graph::lifecycles(); 0 is the default one
  std::string site;       // file:line of the declaration
};

std::string make_key(std::string_view type, std::string_view identifier);
// Splits "Type/identifier" at the first '/'; false when there is none.
bool split_key(std::string_view key, std::string& type, std::string& identifier);

class Graph {
 public:
  // Makes room for `n` nodes.
  void reserve(size_t n) {
    nodes_.reserve(n);
    index_.reserve(n);
  }
  // Adds a node; its Refs may name nodes added later. Returns its index.
  int add(Node node);
  // Adds `node` (moved from) unless a node with its key is there already: then returns
  // that one's index, sets `added` false and leaves `node` as it was.
  int add_or_find(Node& node, bool& added);
  void set_handle(int node, int handle) { nodes_[node].handle = handle; }
  // Instances mostly share their type's lifecycle: each distinct one is kept once.
  int add_lifecycle(Lifecycle l) {
    lifecycles_.push_back(std::move(l));
    return static_cast<int>(lifecycles_.size()) - 1;
  }
  void set_lifecycle(int node, int lifecycle) { nodes_[node].lifecycle = lifecycle; }
  const Lifecycle& lifecycle(int node) const { return lifecycles_[nodes_[node].lifecycle]; }
  const std::vector<Lifecycle>& lifecycles() const { return lifecycles_; }
  // The pools the lifecycles name, with how many of their jobs may run at once.
  void set_pool(const std::string& name, int size) { pools_[name] = size; }
  int pool_size(const std::string& name) const {
    auto it = pools_.find(name);
    return it == pools_.end() ? 0 : it->second;
  }
  int find(std::string_view key) const;
  void add_root(int node);
  // The state's key for the values of sensitive fields (see compute_ids): set before
  // finalize; empty hashes them as the scheme does.
  void set_hash_key(std::string key) { hash_key_ = std::move(key); }

  // What the state holds for a key, or nullptr.
  using StoredLookup = std::function<const StoredInstance*(const std::string& key)>;

  // Resolves refs into deps, orders nodes so that deps come first (throws Code::Cycle),
  // and computes every uuid and hash. With `stored`, an instance whose hashing inputs
  // are those its stored ids were computed from keeps them, unhashed (a no-op plan
  // hashes nothing; see keeps_stored_ids in graph.cpp).
  void finalize(const StoredLookup& stored = {});

  // The ids of node `n` from its fields and its sub-components' ids as `lookup` gives
  // them (by default their current ids).
  Ids ids(int n, const IdLookup& lookup = {}) const;
  // After its dependencies' jobs ran: the node's fields read again, its ids anew.
  void set_fields(int n, PackedFields fields) { nodes_[n].fields = std::move(fields); }
  void set_ids(int n, Ids ids);

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<int>& roots() const { return roots_; }
  const Node& node(int i) const { return nodes_[i]; }
  size_t size() const { return nodes_.size(); }

 private:
  auto key_of() const {
    return [this](int i) -> const std::string& { return nodes_[i].key; };
  }

  std::vector<Node> nodes_;
  KeyIndex index_;  // key -> node
  std::vector<int> roots_;
  std::vector<Lifecycle> lifecycles_{Lifecycle{}};
  std::unordered_map<std::string, int> pools_;
  std::string hash_key_;
};

}  // namespace ochre
