// The state without a pipeline: where it lives, reading it without disturbing whoever
// writes it, and copying it between stores. No SQLite or PostgreSQL types here.
//
// Ownership and threads are as in ochre.hpp: everything returned is a copy the caller
// owns; a StateReader is used from one thread at a time (two readers are independent).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ochre {

// The workspace a state is used in unless one is named.
constexpr const char* default_workspace = "default";
// A workspace name: letters, digits, '_', '.', '-' (not first), at most 63 characters.
bool valid_workspace(const std::string& name);
// A state's location (a SQLite file or a postgres:// URL) as it may be shown: a URL's
// password replaced by "***".
std::string redact_location(const std::string& location);

// What `ochre state migrate` copied.
struct MigrateReport {
  size_t instances = 0, roots = 0, runs = 0, jobs = 0, versions = 0;
};
// Copies the state at `from` into the empty state at `to` (both in `workspace`), holding
// both locks (waiting up to `lock_timeout` seconds for each), then reads the copy back
// and compares it with the original: every instance (ids, fields, outputs, status),
// every root, and the journal's runs, jobs and versions in order. Throws Code::State
// when `from` holds nothing, the target is not empty or the copy differs, Code::Locked
// when a lock stays held, Code::Usage when `from` and `to` are the same.
MigrateReport migrate_state(const std::string& from, const std::string& to, const std::string& workspace,
                            double lock_timeout);

// An instance as the state holds it.
struct StoredInfo {
  std::string key, type, identifier, uuid, hash;
  std::string status;             // its last job: "ok", "failed", "running", "pending"
  std::vector<std::string> deps;  // keys of the sub-components it references
};

// One run of the journal (an apply or a destroy).
struct RunEntry {
  long long id = 0;
  std::string command;  // "apply", "destroy", ...
  std::string started, ended;  // times as the journal writes them; `ended` "" while it runs
  std::string outcome, summary;
  long long pid = 0;    // the process that ran it
};

// One job of a run.
struct JobEntry {
  long long run = 0;
  int seq = 0;          // its index in the run's plan
  std::string key, uuid, action, started, ended, outcome, error, output;  // `ended` "" while it runs
};

// The state at a location, read-only: it never takes the state's lock, so an ochre
// applying in another process is never blocked, and it never creates anything (a missing
// state reads as empty). Each call reads what is committed at that moment.
class StateReader {
 public:
  // `location`: a SQLite file or a PostgreSQL URL; `workspace` empty: the default one.
  // Throws Code::State when the state cannot be opened (or is newer than this ochre).
  StateReader(const std::string& location, const std::string& workspace = "");
  ~StateReader();
  StateReader(StateReader&&) noexcept;
  StateReader& operator=(StateReader&&) noexcept;

  // Every stored instance, in no particular order. The reader keeps them for show().
  std::vector<StoredInfo> stored();
  // Runs, newest first (`limit` 0: all), and the jobs of one run in their order.
  std::vector<RunEntry> runs(int limit);
  std::vector<JobEntry> jobs_of_run(long long run);
  // Something that differs whenever a writer has committed to the state (or it is
  // another file) since it was last taken; nullopt where the store cannot tell.
  std::optional<std::string> change_token();

  // What `ochre state show KEY`, `history KEY` and `log` print (text, or the JSON of
  // --json), sensitive values masked as the state recorded them. show() shows KEY as
  // the last stored() read it (reading now if stored() was never called) and throws
  // Code::UnknownKey when it is not there; history() of an unknown key lists nothing.
  std::string show(const std::string& key, bool json);
  std::string history(const std::string& key, bool json);
  std::string log(int limit, bool json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ochre
