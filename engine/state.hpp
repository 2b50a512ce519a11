// The state: what ochre applied, and the journal of runs and jobs. SQLite is the
// embedded default (state_sqlite.cpp); the interface leaves room for other stores.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/canonical.hpp"
#include "ochre/value.hpp"

namespace ochre {

enum class Action { Create, Update, Delete };
const char* action_name(Action a);  // "create", "update", "delete"
bool parse_action(std::string_view text, Action& out);

// Where an instance's last job stands. Anything but Ok is redone by the next run.
enum class Status { Ok, Failed, Running, Pending };
const char* status_name(Status s);  // "ok", "failed", "running", "pending"
bool parse_status(std::string_view text, Status& out);

struct StoredInstance {
  std::string key, type, identifier, uuid, hash;
  PackedFields fields;  // the last applied fields (for a create never finished: the attempted)
  Value outputs = Value::map();
  std::vector<std::string> deps;  // keys of the sub-components it references
  std::vector<std::string> breaks;  // its type's breaking fields (to recompute its ids)
  bool breaks_known = true;         // false for rows written before schema version 2
  std::vector<std::string> sensitive;  // fields never shown (schema version 3)
  Status status = Status::Ok;
  Action action = Action::Create;  // the last job attempted on it
  std::string error;               // the last failure or pending reason
  long long run = 0;               // the run that wrote it last
};

struct RunInfo {
  std::string command;  // "apply", "destroy", ...
  std::string source;   // the pipeline's absolute path (or a name given by a host)
};

// What a job did, recorded when it ends.
struct JobOutcome {
  enum Kind { Done, Failed, Pending, Skipped, Interrupted } kind = Done;
  std::string error;   // failure message, pending reason, or why it was skipped
  std::string output;  // captured output
  Value outputs;       // for a finished create/update
};
const char* outcome_name(JobOutcome::Kind k);

// One run of the journal.
struct RunRecord {
  long long id = 0;
  std::string command, source, started, ended, outcome, summary, host, user;
  long long pid = 0;
};

// One job of the journal.
struct JobRecord {
  long long id = 0, run = 0;
  int seq = 0;
  std::string key, uuid, action, started, ended, outcome, error, output;
};

// One stored version of an instance: what a finished job left.
struct VersionRecord {
  long long run = 0, job = 0;
  std::string key, uuid, hash, action, at;
  Fields fields;
  Value outputs;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual const std::string& location() const = 0;

  // Everything stored, in one read, in no particular order (SQLite: as written).
  virtual std::vector<StoredInstance> load() = 0;
  // (source, root key) of every applied root.
  virtual std::vector<std::pair<std::string, std::string>> roots() = 0;

  // Jobs ending close together may share one commit: between begin_batch and
  // commit_batch, each call's writes are part of one transaction.
  virtual void begin_batch() {}
  virtual void commit_batch() {}

  // Journal: a run wraps the jobs of one apply/destroy. Each call commits.
  virtual long long begin_run(const RunInfo& info) = 0;
  virtual void end_run(long long run, const std::string& outcome, const std::string& summary) = 0;
  // Replaces the roots recorded for `source`.
  virtual void set_roots(const std::string& source, const std::vector<std::string>& keys) = 0;

  // A job is about to run: journal row plus the instance marked running. Returns the job id.
  // `target` is the instance as the job will leave it when it succeeds.
  virtual long long job_started(long long run, int seq, Action action,
                                const StoredInstance& target) = 0;
  // The job ended: journal row closed and, in the same transaction, the instance updated
  // (written as `target` for a finished create/update, removed for a finished delete,
  // marked failed/pending otherwise).
  virtual void job_finished(long long job, Action action, const StoredInstance& target,
                            const JobOutcome& outcome) = 0;
  // A job that runs no code of the user's (no hook), started and ended at once: what
  // job_started and then job_finished would write. Returns the job id.
  virtual long long job_done(long long run, int seq, Action action, const StoredInstance& target,
                             const JobOutcome& outcome) {
    long long job = job_started(run, seq, action, target);
    job_finished(job, action, target, outcome);
    return job;
  }
  // A job that never ran because a dependency did not finish.
  virtual void job_skipped(long long run, int seq, Action action, const std::string& key,
                           const std::string& uuid, const std::string& why) = 0;
  // Marks jobs left running by a dead process as interrupted; returns their keys.
  virtual std::vector<std::string> recover_interrupted() = 0;

  // Journal reads, newest first (`limit` 0: all).
  virtual std::vector<RunRecord> runs(int limit) = 0;
  virtual std::vector<JobRecord> jobs_of_run(long long run) = 0;
  virtual std::vector<VersionRecord> versions(const std::string& key) = 0;

  // Administration, each in one transaction. `forget` drops an instance from the state
  // (nothing is deleted in the world); `move` renames `from` to `to`, writing `rows` (the
  // renamed instance and every instance whose ids changed with it).
  virtual void forget(const std::string& key) = 0;
  virtual void set_breaks(const std::string& key, const std::vector<std::string>& breaks) = 0;
  virtual void move(const std::string& from, const std::string& to,
                    const std::vector<StoredInstance>& rows) = 0;
};

enum class OpenMode { ReadOnly, ReadWrite };

// Opens (ReadWrite: creates) the SQLite state at `path`. ReadOnly on a missing file
// gives an empty state that writes nothing.
std::unique_ptr<StateStore> open_sqlite_state(const std::string& path, OpenMode mode);

}  // namespace ochre
