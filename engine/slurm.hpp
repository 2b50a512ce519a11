// Commands run as Slurm batch jobs: submitted with sbatch, waited for by polling the
// scheduler in batches on the event loop (one timer, at most one squeue at a time, for
// every job), collected from files on the shared filesystem, cancelled with scancel.
// Every submission is journaled in the state before sbatch runs and until the hook that
// made it ends, so a run after ochre's death re-attaches to its jobs rather than
// submitting them again (see docs/cluster.md).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct uv_loop_s;

namespace ochre {

class StateStore;

// What sbatch is asked for; empty or 0: the cluster's default.
struct SlurmSpec {
  std::string partition, mem, time, name;
  int cpus = 0, gpus = 0;
  std::vector<std::string> extra;  // more sbatch options, as given ("--constraint=a100")
};

struct ClusterCommand {
  std::string key;  // the instance whose hook runs it (journal and job name)
  int slot = 0;     // the hook's n-th cluster command
  std::string command, cwd, stdin_text;
  bool has_stdin = false;
  std::vector<std::string> env;  // the submitting environment; sbatch passes it to the job
  SlurmSpec spec;
  std::string dir;  // where its job directory goes (a shared filesystem)
  double timeout = 0;  // seconds from the submission; the job is cancelled after them
};

struct ClusterResult {
  std::string error;  // not empty: the job could not run (the scheduler's own message)
  bool has_code = true;
  long long code = 0;
  bool timed_out = false;
  std::string out, err, job_id;
};

// Polling intervals and limits, as seconds (OCHRE_SLURM_POLL, OCHRE_SLURM_GIVE_UP).
struct SlurmTiming {
  double files = 0.1;     // how often finished jobs' exit files are looked for
  double poll = 1;        // how often the scheduler is asked about every job
  double give_up = 60;    // a scheduler that does not answer this long fails the jobs
  int resubmits = 3;      // a job the cluster lost is submitted again at most this often
};
SlurmTiming slurm_timing_from_env();

class SlurmExecutor {
 public:
  using Done = std::function<void(ClusterResult)>;
  // What the job wrote to its stdout and stderr since the last call, as it runs (read
  // from its files on the shared filesystem at each check).
  using Output = std::function<void(std::string_view)>;
  // `journal` gives the state to journal in, or null (nothing is journaled then).
  SlurmExecutor(uv_loop_s* loop, std::function<StateStore*()> journal, SlurmTiming timing = slurm_timing_from_env());
  ~SlurmExecutor();
  SlurmExecutor(const SlurmExecutor&) = delete;
  SlurmExecutor& operator=(const SlurmExecutor&) = delete;

  // Runs `cmd` on the cluster, or re-attaches to the job the journal holds for it (same
  // key, slot and command). `done` is called once, from the loop, with the job's whole
  // output; `output` (if any) gets it piece by piece before that. Returns a handle.
  uint64_t start(ClusterCommand cmd, Done done, Output output = nullptr);
  // The one way cluster jobs are stopped (Ctrl-C twice, --fail-fast, timeouts): one
  // scancel for all of them, waited for; their journal rows are dropped and their
  // `done` is never called.
  void cancel(const std::vector<uint64_t>& handles);
  // The hook of `key` ended: its submissions are forgotten (journal rows, directories).
  void hook_ended(const std::string& key);
  // Closes the loop handles (before the loop closes); nothing is cancelled.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ochre
