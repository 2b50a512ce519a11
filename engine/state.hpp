// The state: what ochre applied, and the journal of runs and jobs. SQLite is the
// embedded default (state_sqlite.cpp); PostgreSQL keeps a state shared by many machines
// (state_pg.cpp), each workspace a state of its own.
#pragma once
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "ochre/state.hpp"
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
  std::string key, type, identifier;
  Uuid uuid;
  Digest hash;
  // (The small members next to the ids, in their padding: a million of these are loaded.)
  bool breaks_known = true;  // false for rows written before schema version 2
  bool protect = false;      // applied with lifecycle protect = true (schema version 5)
  Status status = Status::Ok;
  Action action = Action::Create;  // the last job attempted on it
  PackedFields fields;  // the last applied fields (for a create never finished: the attempted)
  Value outputs = Value::map();
  std::vector<std::string> deps;  // keys of the sub-components it references
  std::vector<std::string> breaks;  // its type's breaking fields (to recompute its ids)
  std::vector<std::string> sensitive;  // fields never shown (schema version 3)
  std::string error;               // the last failure or pending reason
  long long run = 0;               // the run that wrote it last
};

struct RunInfo {
  std::string command;  // "apply", "destroy", ...
  std::string source;   // the pipeline's absolute path (or a name given by a host)
};

// What a job did, recorded when it ends.
struct JobOutcome {
  // Cutoff: decided after its dependencies' jobs, it needed no hook: unchanged, or
  // changed only through sub-components whose outputs came out the same. Its row takes
  // the new ids (as Done does) with its outputs as they were.
  enum Kind { Done, Failed, Pending, Skipped, Interrupted, Cutoff } kind = Done;
  bool applied() const { return kind == Done || kind == Cutoff; }
  std::string error;   // failure message, pending reason, why it was skipped or cut off
  std::string output;  // captured output
  Value outputs;       // for a finished create/update
};
const char* outcome_name(JobOutcome::Kind k);
// What a version's history says of the job that left it: its action, or "cutoff" for a
// job that needed no hook (its ids moved on, its outputs as they were).
inline const char* version_action(Action action, const JobOutcome& outcome) {
  return outcome.kind == JobOutcome::Cutoff ? "cutoff" : action_name(action);
}

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

// A whole state, as `ochre state migrate` copies it between stores.
struct Snapshot {
  std::vector<StoredInstance> instances;
  std::vector<std::pair<std::string, std::string>> roots;  // (source, key)
  std::vector<RunRecord> runs;                              // oldest first
  std::vector<JobRecord> jobs;                              // oldest first
  std::vector<VersionRecord> versions;                      // oldest first
  std::string hash_key;  // the key of sensitive values' hashes (empty: none yet)
};

// One delivery of a notification to one webhook (engine/notify.hpp): written to the
// outbox in the transaction of what it reports, sent later by the delivery thread.
struct OutboxEvent {
  std::string id;         // unique; the body's "id" and the X-Ochre-Delivery header
  std::string event;      // "run.started", "job.failed", ...
  std::string url;        // where it goes
  std::string body;       // the JSON sent, byte for byte
  std::string signature;  // hex HMAC-SHA256 of `body` under the webhook's secret
  long long run = 0;      // the run it reports
  int attempts = 0;       // times it was sent so far without a 2xx answer
  long long next_at = 0;  // not to be sent before (milliseconds since the epoch)
  std::string error;      // why the last attempt failed
};

// A command handed to a cluster scheduler by a hook (engine/slurm.hpp), journaled from
// before it is submitted until the hook's job ends, so that a later run re-attaches to
// it rather than submitting it again. `slot` is the hook's n-th cluster command; `token`
// names the submission on the cluster (and its directory); `job_id` is empty until the
// scheduler accepted it; `digest` tells a changed command from the same one.
struct Submission {
  std::string key;
  int slot = 0;
  std::string token, job_id, dir, digest;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual const std::string& location() const = 0;

  // Held around every use of the store from the loop thread while a hook's code runs
  // (the cluster journal), and by the group committer's thread while it commits
  // (engine/group_commit.hpp): the two never use the connection at once.
  std::mutex& hook_use() { return hook_use_; }

 private:
  std::mutex hook_use_;

 public:

  // Everything stored, in one read, in no particular order (SQLite: as written).
  virtual std::vector<StoredInstance> load() = 0;
  // (source, root key) of every applied root.
  virtual std::vector<std::pair<std::string, std::string>> roots() = 0;
  // Each distinct (type, sensitive fields) of the stored instances that have any, read
  // without the rest of their rows (views mask what the state recorded). A damaged row
  // fails as load() does.
  virtual std::vector<std::pair<std::string, std::vector<std::string>>> recorded_sensitive();
  // Something that differs whenever another connection has committed to this state (or
  // the state is another file) since it was last taken: a read made while it stays equal
  // is current. Empty where the store cannot tell, and for a state that does not exist.
  virtual std::optional<std::string> change_token() { return std::nullopt; }

  // Jobs ending close together may share one commit: between begin_batch and
  // commit_batch, each call's writes are part of one transaction. Batches nest: only the
  // outermost commit_batch commits, so a write and the outbox events that report it can
  // be wrapped in their own pair inside a larger batch and still commit together.
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

  // Cluster submissions in flight (a table made on first use, outside the schema's
  // versions: older ochres ignore it). `put_submission` inserts or replaces (key, slot)
  // and commits (or is part of the batch); `drop_submissions` forgets all of `key`.
  virtual std::vector<Submission> submissions(const std::string& key) {
    (void)key;
    return {};
  }
  virtual void put_submission(const Submission& s) { (void)s; }
  virtual void drop_submissions(const std::string& key) { (void)key; }

  // Journal reads, newest first (`limit` 0: all).
  virtual std::vector<RunRecord> runs(int limit) = 0;
  virtual std::vector<JobRecord> jobs_of_run(long long run) = 0;
  virtual std::vector<VersionRecord> versions(const std::string& key) = 0;

  // The outbox of notifications (schema version 4). `outbox_add` inserts each event
  // undelivered, attempts 0, in the order given; inside a batch it is part of the
  // batch's transaction (callers wrap it with the write it reports).
  virtual void outbox_add(const std::vector<OutboxEvent>& events) = 0;
  // Undelivered events with next_at <= `now_ms`, oldest first (insertion order), at
  // most `limit`. Empty for a state written before version 4 (read as it is).
  virtual std::vector<OutboxEvent> outbox_due(long long now_ms, int limit) = 0;
  // A 2xx answer came: the event is never sent again (attempts + 1, error cleared).
  virtual void outbox_delivered(const std::string& id) = 0;
  // An attempt failed: records the count, the next time to try and why. Does nothing
  // to an event already delivered.
  virtual void outbox_retry(const std::string& id, int attempts, long long next_at,
                            const std::string& error) = 0;

  // Administration, each in one transaction. `forget` drops an instance from the state
  // (nothing is deleted in the world); `move` renames `from` to `to`, writing `rows` (the
  // renamed instance and every instance whose ids changed with it).
  virtual void forget(const std::string& key) = 0;
  virtual void set_breaks(const std::string& key, const std::vector<std::string>& breaks) = 0;
  // The instance's protect flag, as its lifecycle now says (nothing if it is not stored).
  virtual void set_protect(const std::string& key, bool protect) = 0;
  virtual void move(const std::string& from, const std::string& to,
                    const std::vector<StoredInstance>& rows) = 0;

  // The state's own random key, with which the values of sensitive fields are hashed
  // into ids (compute_ids); never printed. Empty for a state without one (new, or from
  // before keys) until a writer adopts one: `key` is kept if the state has none.
  virtual std::string hash_key() { return {}; }
  virtual void adopt_hash_key(const std::string& key) { (void)key; }

  // Copying a whole state (ochre state migrate): everything, in one read; and into an
  // empty store, in one transaction, the journal's ids renumbered in the same order.
  virtual Snapshot snapshot() = 0;
  virtual void restore(const Snapshot& snapshot) = 0;
};

enum class OpenMode { ReadOnly, ReadWrite };

// Opens (ReadWrite: creates) the SQLite state at `path`. ReadOnly on a missing file
// gives an empty state that writes nothing.
std::unique_ptr<StateStore> open_sqlite_state(const std::string& path, OpenMode mode);

// Where a state lives: a SQLite file path, or a PostgreSQL URL (postgres://... or
// postgresql://..., with an optional `schema=NAME` parameter, default "ochre").
bool is_postgres_location(const std::string& location);
// redact_location, valid_workspace and default_workspace: ochre/state.hpp.

// Opens the state at `location` (SQLite or PostgreSQL), in `workspace`. On SQLite a
// workspace other than "default" is a file of its own beside the default one
// (state.db -> state.NAME.db).
std::unique_ptr<StateStore> open_state(const std::string& location, const std::string& workspace,
                                       OpenMode mode);
// Opens the PostgreSQL state at `url`: ReadOnly never creates the schema (a missing one
// reads as an empty state).
std::unique_ptr<StateStore> open_postgres_state(const std::string& url, const std::string& workspace,
                                                OpenMode mode);
// The SQLite file of `workspace` for the state file `path`.
std::string sqlite_workspace_path(const std::string& path, const std::string& workspace);

// One writer per state (per workspace on PostgreSQL), held until destroyed.
class StateLock {
 public:
  virtual ~StateLock() = default;
};
// Takes the lock of the state at `location`, waiting up to `timeout` seconds; throws
// Error(Code::Locked) naming the holder (pid, host, since when). SQLite: flock(2) on a
// lock file beside the state. PostgreSQL: an advisory lock held on a connection of its own.
std::unique_ptr<StateLock> lock_state(const std::string& location, const std::string& workspace,
                                      double timeout);
std::unique_ptr<StateLock> lock_postgres_state(const std::string& url, const std::string& workspace,
                                               double timeout);

}  // namespace ochre
