// What `ochre serve` shows, without the HTTP: the pipeline's planned graph with a live
// status per component, the plan, the runs of the journal and each component's details,
// as JSON for the page. The state is read through a StateReader (never the lock, so a
// writer in another process is never blocked); the plan comes from an Engine.
// Thread-safe: the server's threads call it at once.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ochre/ochre.hpp"
#include "ochre/state.hpp"

namespace ochre::cli {

class Dashboard {
 public:
  // Plans `file` once (an empty file: the state alone, no plan); a bad pipeline throws
  // the Error `ochre plan` would give.
  Dashboard(std::string file, Options options, bool allow_apply);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Looks at the journal (cheap unless something moved) and, when a run ended or the
  // pipeline file changed, plans again. Wakes the waiters of wait_change on a change.
  void poll();

  // Counters that grow on every change: of the statuses, and of the graph's shape.
  struct Versions {
    long long status = 0, graph = 0;
    bool operator==(const Versions&) const = default;
  };
  Versions versions() const;
  // Blocks until the versions differ from `seen`, `timeout` passes or stop() is called.
  Versions wait_change(const Versions& seen, std::chrono::milliseconds timeout);
  // Wakes every waiter for good; joins an apply under way (its jobs are let finish).
  void stop();
  bool stopped() const { return stopped_; }

  // The JSON documents of the API.
  std::string info_json() const;                   // pipeline, state, allow_apply
  std::string graph_json() const;                  // nodes with deps and statuses
  std::string status_json() const;                 // statuses, newest run, apply
  std::string plan_json() const;                   // the jobs with their reasons
  std::string runs_json(int limit);                // the journal, newest first
  // One component: planned and stored fields, outputs, its last jobs with their
  // output, its versions. Throws Error(UnknownKey) for a key that is nowhere.
  std::string component_json(const std::string& key);

  // The Apply button: takes the state's lock and applies the pipeline in this process,
  // in the background. Returns an HTTP status (202 started, 403 read-only, 409 busy or
  // locked, 400 no pipeline or a broken one) and a one-line message.
  std::pair<int, std::string> start_apply();

 private:
  struct PlannedNode;
  struct Snapshot;  // what was last read from the state
  struct PlanView;  // what was last planned

  void replan();
  // Makes this plan (Engine::jobs() and nodes()) the plan shown. Holds mu_.
  void set_plan(const std::vector<JobInfo>& jobs, std::vector<NodeInfo> nodes);
  // Holds mu_.
  void recompute_statuses();
  // Reads the journal and the state; true when the plan should be made again.
  bool read_state();
  std::string status_of(const PlannedNode& node, const std::unordered_set<std::string>& running,
                        const std::unordered_map<std::string, std::string>& left) const;
  StateReader& store();
  long long file_mtime() const;

  std::string file_;
  Options options_;
  bool allow_apply_;
  std::string state_location_, workspace_;

  mutable std::mutex mu_;  // guards everything below and the store
  std::condition_variable changed_;
  std::unique_ptr<StateReader> store_;
  std::unique_ptr<Snapshot> snap_;
  std::unique_ptr<PlanView> plan_;
  std::map<std::string, std::string> statuses_;  // key -> status
  Versions versions_;
  long long mtime_ = 0;
  int polls_ = 0;
  std::atomic<bool> stopped_{false};

  // The apply started by the page.
  std::thread apply_thread_;
  bool applying_ = false;
  std::string apply_summary_, apply_error_;
};

}  // namespace ochre::cli
