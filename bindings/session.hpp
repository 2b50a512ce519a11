// The engine behind ochre::Engine: one Lua state with the DSL, the loaded pipeline,
// its graph and plan, and the state store. Internal to the bindings.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bindings/lua_state.hpp"
#include "engine/apply.hpp"
#include "engine/graph.hpp"
#include "engine/planner.hpp"
#include "engine/state.hpp"
#include "ochre/ochre.hpp"

namespace ochre::lua {

struct TypeInfo {
  std::string name;
  std::vector<std::string> breaks;
  std::vector<std::string> field_names;
  bool has_read = false;
};

class Session {
 public:
  explicit Session(Options options);
  ~Session();

  // Loading: runs the chunk at the top of the stack (popped) and records its roots.
  void load_file(const std::string& path);
  void load_string(std::string_view code, const std::string& name);

  // Makes the instance or list of instances at `idx` the roots; throws BadReturn. [-0, +0, e]
  void set_roots(int idx);

  // Opens the state (read-only unless `write`), once.
  StateStore& state(bool write);
  void plan(bool destroy, const std::vector<std::string>& keys);
  ApplyReport apply(const Callbacks& callbacks);

  // The directory of an instance's own files (self:path), under the state's directory.
  std::string instance_dir(const std::string& key) const;

  // Hook output: appended to the running job's capture, and shown.
  void write_output(std::string_view text);

  lua_State* L() const { return lua_.get(); }

  // Registry references.
  int module_ref = LUA_NOREF;
  int internal_ref = LUA_NOREF;

  Options options;
  std::string source;      // the pipeline's absolute path, or its name
  std::string pipeline_name;  // the pipeline as the user named it, for messages
  std::string state_path;
  std::vector<int> root_refs;  // the instances the pipeline returned
  bool has_roots = false;

  std::optional<Graph> graph;
  std::optional<Plan> current_plan;
  bool destroying = false;
  bool destroy_all = false;  // a destroy of the whole pipeline (no KEYs)
  std::unordered_map<std::string, std::vector<int>> instance_refs;  // key -> its Lua objects
  std::unordered_map<const void*, TypeInfo> types;                   // by type table
  std::string* capture = nullptr;

  // Pushes internal.<name>. [-0, +1, -]
  void push_internal(const char* name);
  const TypeInfo& type_info(int idx);
  // Pushes the type table named `type`, or nil. [-0, +1, -]
  void push_type(const std::string& type);

 private:
  void build_graph(const std::vector<StoredInstance>& stored);
  void run_chunk(const std::string& display_name);

  LuaState lua_;
  std::unique_ptr<StateStore> state_;
  bool state_writable_ = false;
};

// Installs the `ochre` module (DSL + natives) into the session's Lua state.
void install_module(Session& session);

// Runs hooks of jobs through Lua.
class LuaHookRunner : public HookRunner {
 public:
  explicit LuaHookRunner(Session& s) : s_(s) {}
  JobOutcome run(const Job& job, const Plan& plan, const Graph& graph) override;

 private:
  void push_stored(const Plan& plan, const std::string& key, std::unordered_map<std::string, int>& cache);
  Session& s_;
};

}  // namespace ochre::lua
