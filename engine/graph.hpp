// The pipeline graph: one node per instance (Type/identifier), edges from a node to the
// sub-components its fields reference. Nodes are kept in dependency order.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "ochre/value.hpp"

namespace ochre {

struct Node {
  std::string type;
  std::string identifier;
  std::string key;                  // "Type/identifier"
  std::vector<std::string> breaks;  // in declaration order
  std::vector<std::string> sensitive;  // fields never shown (still hashed and stored)
  Fields fields;                    // sorted by name, "identifier" included
  std::vector<int> deps;            // indices of the nodes referenced by fields
  std::string uuid;
  std::string hash;
  std::string site;  // file:line of the declaration
  int handle = -1;   // the embedder's handle for this instance (e.g. a Lua reference)
};

std::string make_key(std::string_view type, std::string_view identifier);
// Splits "Type/identifier" at the first '/'; false when there is none.
bool split_key(std::string_view key, std::string& type, std::string& identifier);

class Graph {
 public:
  // Adds a node; its Refs may name nodes added later. Returns its index.
  int add(Node node);
  int find(const std::string& key) const;
  void add_root(int node);

  // Resolves refs into deps, orders nodes so that deps come first (throws Code::Cycle),
  // and computes every uuid and hash.
  void finalize();

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<int>& roots() const { return roots_; }
  const Node& node(int i) const { return nodes_[i]; }
  size_t size() const { return nodes_.size(); }

 private:
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> index_;
  std::vector<int> roots_;
};

}  // namespace ochre
