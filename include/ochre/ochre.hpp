// ochre's public C++ API: load a pipeline, plan it, apply it, destroy it.
// No Lua or SQLite types here. An Engine owns its Lua state and its state store;
// several engines in one process are independent. Errors are ochre::Error.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ochre/errors.hpp"

namespace ochre {

struct Options {
  // The state file. Empty: ".ochre/state.db" beside the pipeline file (or the current
  // directory for a pipeline loaded from a string).
  std::string state_path;
  // Where hook output goes when no callback takes it (default: stdout).
  std::function<void(std::string_view text)> output;
};

// One planned job.
struct JobInfo {
  int index = 0;
  std::string action;   // "create", "update", "delete"
  std::string key;      // "Type/identifier"
  std::string uuid;
  std::string details;  // "Type/identifier/uuid.method"
  std::string reason;
  bool replace = false;  // half of a replace (delete + create)
  std::vector<int> deps;
};

struct JobEnd {
  std::string outcome;  // "done", "failed", "pending", "skipped"
  std::string error;    // message (with traceback for a failed hook)
  std::string output;   // what the job printed
};

struct Callbacks {
  std::function<void(const JobInfo&)> started;
  std::function<void(const JobInfo&, const JobEnd&)> finished;
};

struct RunResult {
  int done = 0, failed = 0, skipped = 0, pending = 0;
  bool nothing_to_do = false;
  std::string summary;
  // 0 when every job finished (or is pending), 1 when one failed or was skipped.
  int exit_code() const { return failed || skipped ? 1 : 0; }
};

class Engine {
 public:
  explicit Engine(Options options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Runs a pipeline file; what it returns (an instance or a list) becomes the roots.
  void load_file(const std::string& path);
  // The same for source text; `name` appears in messages as the file name.
  void load_string(std::string_view code, const std::string& name = "pipeline");

  // Runs the read hooks, hashes the graph and plans against the state. Writes nothing.
  void plan();
  // Plans the deletion of everything the pipeline applied (or of `keys` and whatever
  // depends on them).
  void plan_destroy(const std::vector<std::string>& keys = {});

  std::vector<JobInfo> jobs() const;
  std::string plan_table() const;  // the original's table, or "No changes needed – ..."
  std::string plan_json() const;   // every job and every node with ids and inputs
  std::string explain(const std::string& key) const;

  // Runs the planned jobs, recording each outcome in the state as it ends.
  RunResult apply(const Callbacks& callbacks = {});

  const std::string& state_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ochre
