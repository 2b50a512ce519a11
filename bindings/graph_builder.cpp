// Turning a pipeline's instances into the engine's graph: a walk from the roots,
// sub-components first, that gives the stored outputs to the instances, runs read hooks,
// converts fields straight into their canonical encoding, and catches duplicates and
// cycles with the user's lines.
// Over 600 lines because the walk, the read hooks it runs and the conversion share one
// traversal and its error places; split, each part would need the others' state.
#include <algorithm>
#include <unordered_set>

#include "bindings/convert.hpp"
#include "bindings/lifecycle.hpp"
#include "bindings/session.hpp"
#include "engine/canonical.hpp"
#include "engine/timing.hpp"

namespace ochre::lua {

namespace {

// Instance (its table's address) -> node, read a few times per instance while walking:
// open addressing over one array rather than a node allocated per entry.
class NodeMap {
 public:
  static constexpr int Unseen = -2;
  void reserve(size_t n) {
    if (n * 2 > slots_.size()) rehash(n * 2);
  }
  int find(const void* key) const {
    if (slots_.empty()) return Unseen;
    size_t mask = slots_.size() - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return slots_[i].value;
      if (!slots_[i].key) return Unseen;
    }
  }
  void set(const void* key, int value) {
    if ((used_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(16, slots_.size() * 2));
    size_t mask = slots_.size() - 1;
    size_t i = hash(key) & mask;
    while (slots_[i].key && slots_[i].key != key) i = (i + 1) & mask;
    if (!slots_[i].key) ++used_;
    slots_[i] = {key, value};
  }

 private:
  struct Slot {
    const void* key = nullptr;
    int value = 0;
  };
  static size_t hash(const void* p) {  // addresses are aligned: mix the high bits down
    auto x = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p));
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return static_cast<size_t>(x ^ (x >> 33));
  }
  void rehash(size_t n) {
    size_t size = 16;
    while (size < n) size *= 2;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(size, Slot{});
    used_ = 0;
    for (const Slot& s : old)
      if (s.key) set(s.key, s.value);
  }
  std::vector<Slot> slots_;
  size_t used_ = 0;
};

// Walks the instances reachable from the roots, depth first, sub-components first.
// Iterative, with the instances being visited kept in a Lua table (`work_`), so neither
// the C++ nor the Lua stack grows with the depth of the graph (a 100,000-long chain).
class Collector {
 public:
  // With `read_state`, `stored` and `stored_index` are filled only when it is called,
  // which the walk does before the first read hook and at its end: until then instances
  // are walked without their stored outputs, given to them all at once then.
  Collector(Session& s, const std::vector<StoredInstance>& stored, const KeyIndex& stored_index,
            const std::string& hash_key, std::function<void()> read_state)
      : s_(s), L(s.L()), stored_(stored), stored_index_(stored_index), hash_key_(hash_key),
        read_state_(std::move(read_state)),
        have_stored_(!read_state_) {
    // The graph is about what the pipeline declared, or what was applied last.
    s_.push_internal("declared");
    size_t expected = std::max(stored.size(), static_cast<size_t>(lua_tointeger(L, -1)));
    lua_pop(L, 1);
    node_of_.reserve(expected);
    graph_.reserve(expected);
    lua_newtable(L);
    work_ = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  ~Collector() { luaL_unref(L, LUA_REGISTRYINDEX, work_); }

  template <class Timer>
  Graph run(Timer& timer) {
    keys_ = lua_gettop(L) + 1;
    for (int ref : {s_.record_key_ref, s_.values_key_ref, s_.site_key_ref}) lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushstring(L, "identifier");
    lua_rawgeti(L, LUA_REGISTRYINDEX, s_.lifecycle_key_ref);
    for (int ref : s_.roots()) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
      int n = walk(lua_gettop(L));
      lua_pop(L, 1);
      graph_.add_root(n);
    }
    timer.mark("collect");
    need_stored();  // with the interned keys still on the stack
    timer.mark("state wait");
    lua_settop(L, keys_ - 1);
    size_t cursor = 0;  // nodes come in about the order the state's rows were written
    graph_.set_hash_key(hash_key_);
    graph_.finalize([&](const std::string& key) { return find_stored(key, cursor); });
    timer.mark("hash");
    return std::move(graph_);
  }

 private:
  // One instance on the way: 0 = to enter, 1 = entered (children first), 2 = read has
  // run, its fields are converted once every sub-component is done.
  struct Frame {
    const void* ptr = nullptr;
    int slot = 0;  // index in work_
    int stage = 0;
    std::string key, site;
  };

  void push_frame(int idx) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, work_);
    lua_pushvalue(L, idx < 0 ? idx - 1 : idx);
    int slot;  // slots are reused, so the work table stays as small as the walk is deep
    if (free_slots_.empty()) {
      slot = ++slots_;
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
    }
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    Frame f;
    f.ptr = lua_topointer(L, idx);
    f.slot = slot;
    stack_.push_back(std::move(f));
  }

  void release_slot(int slot) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, work_);
    lua_pushnil(L);
    lua_rawseti(L, -2, slot);
    lua_pop(L, 1);
    free_slots_.push_back(slot);
  }

  // Pushes the instance of a frame. [-0, +1, -]
  void push_instance(const Frame& f) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, work_);
    lua_rawgeti(L, -1, f.slot);
    lua_remove(L, -2);
  }

  [[noreturn]] void cycle_from(const void* ptr) {
    size_t i = 0;
    while (i < stack_.size() && !(stack_[i].ptr == ptr && stack_[i].stage > 0)) ++i;
    std::string path;
    for (size_t j = i; j < stack_.size(); ++j)
      if (stack_[j].stage > 0) path += stack_[j].key + " -> ";
    path += stack_[i].key;
    fail(Code::Cycle, {path}, stack_[i].site);
  }

  // Walks from the instance at `idx`; returns its node index.
  int walk(int idx) {
    int base = lua_gettop(L);
    const void* root = lua_topointer(L, idx);
    if (int n = node_of(root); n >= 0) return n;
    push_frame(idx);
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.stage == 0 && node_of(f.ptr) >= 0) {
        release_slot(f.slot);
        stack_.pop_back();
        continue;
      }
      if (f.stage == 0) {
        if (node_of(f.ptr) == Visiting) cycle_from(f.ptr);
        enter(f);
      } else {
        push_instance(f);
        push_record();
        finish(stack_.size() - 1, lua_gettop(L) - 3);
      }
      lua_settop(L, base);
    }
    return node_of(root);
  }

  static constexpr int Unseen = NodeMap::Unseen, Visiting = -1;
  // The node of an instance, or Unseen, or Visiting (entered, not finished).
  int node_of(const void* ptr) const { return node_of_.find(ptr); }

  // The keys of records (dsl.lua's private ones) and values, once below the walk's part
  // of the stack: lua_getfield would intern its key again at every call.
  enum Key { Type, Values, Site, Identifier, OwnLifecycle };
  int keys_ = 0;  // the stack index of the first
  // Pushes t[key], t a plain table at `t` (an absolute index). [-0, +1, -]
  void get(int t, Key key) {
    lua_pushvalue(L, keys_ + key);
    lua_rawget(L, t);
  }

  // Reads the DSL's record of the instance on the top: the instance again (it holds its
  // record), T, values. [-0, +3, e]
  void push_record() {
    lua_pushvalue(L, -1);
    int record = lua_gettop(L);
    get(record, Type);
    get(record, Values);
  }

  // Pushes the value of the type's i-th field (0-based, as in TypeInfo::field_names),
  // through the type's list of names: no name is interned again. [-0, +1, e]
  void push_field(const TypeInfo& type, int values, size_t i) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, type.names_ref);
    lua_rawgeti(L, -1, static_cast<int>(i + 1));
    lua_rawget(L, values < 0 ? values - 2 : values);
    lua_remove(L, -2);
  }

  void enter(Frame& f) {
    push_instance(f);
    int inst = lua_gettop(L);
    push_record();
    const int record = inst + 1, t_idx = inst + 2, values = inst + 3;
    const TypeInfo& type = s_.type_info(t_idx);
    if (type.has_read) need_stored();  // read hooks see the stored outputs
    get(record, Site);
    f.site = lua_tostring(L, -1);
    lua_pop(L, 1);
    get(values, Identifier);
    f.key = make_key(type.name, lua_tostring(L, -1));
    lua_pop(L, 1);
    for (const auto& name : type.required) {
      lua_getfield(L, values, name.c_str());
      bool missing = lua_isnil(L, -1);
      lua_pop(L, 1);
      if (missing) throw Error(Code::MissingField, message(Code::MissingField, {f.key, name}), f.site);
    }
    node_of_.set(f.ptr, Visiting);
    f.stage = 1;

    // What the last apply stored is visible to read and the hooks.
    if (have_stored_) give_outputs(find_stored(f.key, enter_cursor_), values);

    size_t first_child = stack_.size();
    if (!type.has_read) {
      // No read hook to run after the sub-components': encoding the fields walks them
      // once, and puts the sub-components not done yet on the stack, in its order (the
      // encoding is made again once they are done).
      finish(first_child - 1, inst);
      if (stack_.size() > first_child) std::reverse(stack_.begin() + first_child, stack_.end());
      return;
    }
    // Sub-components first (so their read hooks run before ours), in field order.
    for (size_t i = 0; i < type.field_names.size(); ++i) {
      push_field(type, values, i);
      scan(lua_gettop(L));
      lua_pop(L, 1);
    }
    // None to walk first (a leaf): on to its read hook and conversion, still on the stack.
    if (stack_.size() == first_child) return finish(first_child - 1, inst);
    std::reverse(stack_.begin() + first_child, stack_.end());
  }

  // Pushes a frame for every instance inside the value at `idx` that is not done yet.
  void scan(int idx) {
    if (lua_type(L, idx) != LUA_TTABLE) return;
    const void* ptr = lua_topointer(L, idx);
    if (is_instance(L, idx)) {
      int n = node_of(ptr);
      if (n >= 0) return;
      if (n == Visiting) cycle_from(ptr);
      push_frame(idx);
      return;
    }
    if (!scanning_.insert(ptr).second) return;  // a table in itself: conversion reports it
    if (!lua_checkstack(L, 4)) return;          // data nested this deep is refused later
    // In the order of the keys (numbers, then strings by their bytes), never in Lua's
    // table order, which changes between runs: the walk's order is the plan's.
    struct Key {
      bool number;
      double n;
      std::string s;
    };
    std::vector<Key> keys;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TNUMBER) keys.push_back({true, lua_tonumber(L, -1), {}});
      else if (lua_type(L, -1) == LUA_TSTRING) keys.push_back({false, 0, std::string(lua_tostring(L, -1), lua_objlen(L, -1))});
    }
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
      if (a.number != b.number) return a.number;
      return a.number ? a.n < b.n : a.s < b.s;
    });
    for (const Key& k : keys) {
      if (k.number) lua_pushnumber(L, k.n);
      else lua_pushlstring(L, k.s.data(), k.s.size());
      lua_rawget(L, idx);
      scan(lua_gettop(L));
      lua_pop(L, 1);
    }
    scanning_.erase(ptr);
  }

  // Runs the read hook of the frame at `at` (once) and converts its fields, its instance
  // at `inst` with its record, type and values above it (push_record).
  void finish(size_t at, int inst) {
    // A copy: converting may push frames, which moves the stack's elements.
    const std::string key = stack_[at].key, site = stack_[at].site;
    Frame& f = stack_[at];
    const int t_idx = inst + 2, values = inst + 3;
    const TypeInfo& type = s_.type_info(t_idx);

    if (f.stage == 1) {
      f.stage = 2;
      if (type.has_read) {
        const std::string& fkey = key;
        lua_getfield(L, t_idx, "hooks");
        lua_getfield(L, -1, "read");
        lua_remove(L, -2);
        lua_pushvalue(L, inst);
        // ochre import keeps what the read hook of its key returns: the outputs.
        bool keep = fkey == s_.keep_read_of;
        JobOutcome out = s_.run_hook_blocking(fkey, fkey + ": read", 1, [this, keep, &fkey](lua_State* co, int nres) {
          JobOutcome o;
          if (!keep || nres == 0 || !lua_istable(co, 1) || is_instance(co, 1)) return o;
          try {
            s_.kept_read = to_value(co, 1, [&](int) -> std::string { fail(Msg::ValueInstanceOutput); }, "outputs");
          } catch (const Error& e) {
            o.kind = JobOutcome::Failed;
            o.error = message(Msg::HookOutputs, {fkey + ": read", e.what()});
          }
          return o;
        });
        if (out.kind != JobOutcome::Done) fail(Code::HookFailed, {out.error});
      }
    }

    // Encode the fields (by name, identifier included) straight from Lua; a
    // sub-component that read introduced is walked first, then we come back.
    std::string_view identifier = std::string_view(key).substr(type.name.size() + 1);
    std::string encoded = "m";
    refs_.clear();
    bool id_added = false;
    size_t before = stack_.size();
    for (size_t i = 0; i <= type.field_names.size(); ++i) {
      if (!id_added && (i == type.field_names.size() || type.field_names[i] > "identifier")) {
        encode_string("identifier", encoded);
        encode_string(identifier, encoded);
        id_added = true;
      }
      if (i == type.field_names.size()) break;
      const std::string& name = type.field_names[i];
      push_field(type, values, i);
      if (type.optional[i] && lua_isnil(L, -1)) {  // left out until given
        lua_pop(L, 1);
        continue;
      }
      encode_string(name, encoded);
      try {
        encode_value(L, -1, [&](int child) { return ref_key(child); }, name, encoded);
      } catch (const Error& e) {
        if (e.code() != Code::BadValue) throw;
        fail(Code::BadValue, {key, e.what()}, site);
      }
      lua_pop(L, 1);
    }
    if (stack_.size() != before) return;  // new sub-components: they go first
    encoded += 'e';
    Node node;
    node.fields = PackedFields::packed(std::move(encoded));
    node.deps = distinct_refs();
    node.deps_known = true;

    Frame done = std::move(stack_[at]);
    stack_.erase(stack_.begin() + static_cast<long>(at));
    release_slot(done.slot);

    node.type = type.name;
    node.identifier = std::string(identifier);
    node.key = std::move(done.key);
    node.breaks = type.breaks;
    node.sensitive = type.sensitive;
    node.has_read = type.has_read;
    node.site = std::move(done.site);
    node.cutoff = type.cutoff || (type.cutoff_fn && cutoff_of(t_idx, inst, node.key, node.site));
    bool added = false;
    int n = graph_.add_or_find(node, added);
    if (!added) {
      const Node& other = graph_.node(n);
      if (other.fields != node.fields) fail(Code::Duplicate, {node.key, other.site, node.site});
    }
    lua_pushvalue(L, inst);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (added) {
      graph_.set_handle(n, ref);
      if (int l = lifecycle_of(inst + 1, t_idx, n)) graph_.set_lifecycle(n, l);
    } else {
      s_.alias_refs[node.key].push_back(ref);  // an alias: its outputs are kept current too
    }
    node_of_.set(done.ptr, n);
  }

  // The graph's lifecycle entry of node `n`: its record's (ochre.lifecycle), else its
  // type's, else 0 (the default). The DSL interns lifecycle tables by their contents, so
  // one table is one entry, read once however many instances share it.
  int lifecycle_of(int record, int t_idx, int n) {
    get(record, OwnLifecycle);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_getfield(L, t_idx, "lifecycle");
    }
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    const void* ptr = lua_topointer(L, -1);
    auto it = lifecycles_.find(ptr);
    if (it != lifecycles_.end()) {
      lua_pop(L, 1);
      return it->second;
    }
    Lifecycle l = read_lifecycle(L, -1);
    lua_pop(L, 1);
    if (!l.pool.empty()) graph_.set_pool(l.pool, pool_size(s_, l.pool, graph_.node(n)));
    int index = graph_.add_lifecycle(std::move(l));
    lifecycles_.emplace(ptr, index);
    return index;
  }

  // T.cutoff(self) for the instance at `inst`, its type at `t_idx`.
  bool cutoff_of(int t_idx, int inst, const std::string& key, const std::string& site) {
    lua_getfield(L, t_idx, "cutoff");
    lua_pushvalue(L, inst);
    std::string err;
    if (!pcall(L, 1, 1, &err)) fail(Msg::CutoffFailed, {key, err}, site);
    bool yes = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return yes;
  }

  // The key of a sub-component met while converting; one not done yet gets a frame (the
  // conversion is redone once it is).
  std::string_view ref_key(int idx) {
    const void* ptr = lua_topointer(L, idx);
    int n = node_of(ptr);
    if (n >= 0) {
      refs_.push_back(n);
      return graph_.node(n).key;
    }
    if (n == Visiting) cycle_from(ptr);
    push_frame(idx);
    return {};
  }

  // The nodes met as refs while encoding, each once, in the order met: a node's deps.
  std::vector<int> distinct_refs() {
    std::vector<int> deps;
    if (refs_.size() <= 8) {  // the usual few: compared with each other, no table to touch
      for (int r : refs_)
        if (std::find(deps.begin(), deps.end(), r) == deps.end()) deps.push_back(r);
      return deps;
    }
    if (seen_.size() < graph_.size()) seen_.resize(graph_.size(), 0);
    ++stamp_;
    for (int r : refs_)
      if (seen_[r] != stamp_) {
        seen_[r] = stamp_;
        deps.push_back(r);
      }
    return deps;
  }

  // Sets values.outputs (`values` an index below the top) from a stored row.
  void give_outputs(const StoredInstance* st, int values) {
    if (!st || st->status != Status::Ok || st->outputs.entries.empty()) return;
    push_value(L, st->outputs, [&](const std::string& k) { lua_pushstring(L, k.c_str()); });
    lua_setfield(L, values < 0 ? values - 1 : values, "outputs");
  }

  // Reads the state if it is not read yet, and gives their stored outputs to the
  // instances walked so far: the nodes, their aliases, and those entered, not finished.
  void need_stored() {
    if (have_stored_) return;
    read_state_();
    have_stored_ = true;
    auto give = [&](int ref, const StoredInstance* st) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
      push_record();
      give_outputs(st, -1);
      lua_pop(L, 4);
    };
    for (const StoredInstance& st : stored_) {
      if (st.status != Status::Ok || st.outputs.entries.empty()) continue;
      int n = graph_.find(st.key);
      if (n < 0) continue;
      give(graph_.node(n).handle, &st);
      if (auto it = s_.alias_refs.find(st.key); it != s_.alias_refs.end())
        for (int ref : it->second) give(ref, &st);
    }
    size_t cursor = 0;
    for (const Frame& f : stack_) {
      if (f.stage == 0) continue;
      push_instance(f);
      push_record();
      give_outputs(find_stored(f.key, cursor), -1);
      lua_pop(L, 4);
    }
  }

  // The row of `key`; `cursor` follows the rows, which come in about the walk's order.
  const StoredInstance* find_stored(std::string_view key, size_t& cursor) const {
    int i = stored_index_.find_next(key, cursor, stored_.size(),
                                    [this](int j) -> const std::string& { return stored_[j].key; });
    return i < 0 ? nullptr : &stored_[i];
  }

  Session& s_;
  lua_State* L;
  const std::vector<StoredInstance>& stored_;
  const KeyIndex& stored_index_;
  const std::string& hash_key_;  // filled with the stored rows
  std::function<void()> read_state_;
  bool have_stored_ = false;
  size_t enter_cursor_ = 0;
  int work_ = LUA_NOREF;
  int slots_ = 0;
  std::vector<int> free_slots_;
  Graph graph_;
  std::unordered_map<const void*, int> lifecycles_;  // interned lifecycle table -> entry
  std::vector<Frame> stack_;
  NodeMap node_of_;  // a node, or Visiting
  std::vector<int> refs_;          // nodes met as refs by the conversion under way
  std::vector<unsigned> seen_;     // by node: the stamp of the last distinct_refs that met it
  unsigned stamp_ = 0;
  std::unordered_set<const void*> scanning_;
};

// Pushes the entry of the table at `idx` (absolute) under the key kept at registry
// reference `key_ref` (one of an instance's record keys). [-0, +1, -]
void push_entry(lua_State* L, int idx, int key_ref) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, key_ref);
  lua_rawget(L, idx);
}

}  // namespace

void Session::release_graph(const Graph& graph) {
  for (const Node& n : graph.nodes()) luaL_unref(L(), LUA_REGISTRYINDEX, n.handle);
  for (auto& [key, refs] : alias_refs)
    for (int r : refs) luaL_unref(L(), LUA_REGISTRYINDEX, r);
  alias_refs.clear();
}

Graph Session::build_graph(const std::vector<StoredInstance>& stored, const KeyIndex& stored_index,
                           const std::string& hash_key, const std::function<void()>& read_state) {
  PhaseTimer timer;
  uuids_published_ = false;  // published when the REPL prints an instance
  int top = lua_gettop(L());
  try {
    Collector collector(*this, stored, stored_index, hash_key, read_state);
    return collector.run(timer);
  } catch (const std::exception&) {
    lua_settop(L(), top);
    throw;
  }
}

std::string Session::encode_fields(const Graph& graph, int n) {
  lua_State* L = this->L();
  const Node& node = graph.node(n);
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, node.handle);
  const int inst = top + 1, t_idx = top + 2, values = top + 3;
  push_entry(L, inst, record_key_ref);
  push_entry(L, inst, values_key_ref);
  const TypeInfo& type = type_info(t_idx);
  // A sub-component's key, from its record; it must be one of the node's own.
  auto ref_key = [&](int idx) -> std::string_view {
    int sub = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    push_entry(L, sub, record_key_ref);
    lua_getfield(L, -1, "name");
    push_entry(L, sub, values_key_ref);
    lua_getfield(L, -1, "identifier");
    std::string key = make_key(lua_tostring(L, -3), lua_tostring(L, -1));
    lua_pop(L, 4);
    for (int d : node.deps)
      if (graph.node(d).key == key) return graph.node(d).key;
    fail(Msg::RereadRef, {node.key, key});
  };
  std::string encoded = "m";
  bool id_added = false;
  for (size_t i = 0; i <= type.field_names.size(); ++i) {
    if (!id_added && (i == type.field_names.size() || type.field_names[i] > "identifier")) {
      encode_string("identifier", encoded);
      encode_string(node.identifier, encoded);
      id_added = true;
    }
    if (i == type.field_names.size()) break;
    const std::string& name = type.field_names[i];
    lua_getfield(L, values, name.c_str());
    if (type.optional[i] && lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    encode_string(name, encoded);
    encode_value(L, -1, ref_key, name, encoded);
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return encoded + 'e';
}

void LuaHookRunner::reread(int n, const Graph& graph, Reread done) {
  lua_State* L = s_.L();
  const Node& node = graph.node(n);
  s_.push_type(node.type);
  lua_getfield(L, -1, "hooks");
  lua_getfield(L, -1, "read");
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, node.handle);
  auto ctx = std::make_unique<JobContext>();
  ctx->key = node.key;
  ctx->label = node.key + ": read";
  ctx->on_return = [](lua_State*, int) { return JobOutcome{}; };
  Session& s = s_;
  ctx->done = [&s, &graph, n, done = std::move(done)](JobOutcome o) {
    if (o.kind != JobOutcome::Done) return done(std::move(o), {});
    std::string encoded;
    try {
      encoded = s.encode_fields(graph, n);
    } catch (const Error& e) {
      o.kind = JobOutcome::Failed;
      o.error = e.what();
      return done(std::move(o), {});
    }
    done(std::move(o), PackedFields::packed(std::move(encoded)));
  };
  s_.start_hook(std::move(ctx), 1);
}

}  // namespace ochre::lua
