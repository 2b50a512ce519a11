// The SQLite state store: one file, WAL journal, job outcomes committed in groups (whose log
// a thread of its own checkpoints: wal_checkpointer.hpp).
// Longer than most files on purpose: it is one implementation of the StateStore
// interface (schema and migrations, instances, journal, versions, outbox, snapshot),
// each method a statement or two over the same connection and prepared statements;
// split by table, the halves would share all of that state.
#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "ochre/errors.hpp"
#include "engine/state.hpp"
#include "engine/wal_checkpointer.hpp"
#include "engine/state_rows.hpp"

namespace ochre {

const char* action_name(Action a) {
  switch (a) {
    case Action::Create: return "create";
    case Action::Update: return "update";
    case Action::Delete: return "delete";
  }
  return "?";
}

bool parse_action(std::string_view t, Action& out) {
  if (t == "create") out = Action::Create;
  else if (t == "update") out = Action::Update;
  else if (t == "delete") out = Action::Delete;
  else return false;
  return true;
}

const char* status_name(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::Failed: return "failed";
    case Status::Running: return "running";
    case Status::Pending: return "pending";
  }
  return "?";
}

bool parse_status(std::string_view t, Status& out) {
  if (t == "ok") out = Status::Ok;
  else if (t == "failed") out = Status::Failed;
  else if (t == "running") out = Status::Running;
  else if (t == "pending") out = Status::Pending;
  else return false;
  return true;
}

const char* outcome_name(JobOutcome::Kind k) {
  switch (k) {
    case JobOutcome::Done: return "done";
    case JobOutcome::Failed: return "failed";
    case JobOutcome::Pending: return "pending";
    case JobOutcome::Skipped: return "skipped";
    case JobOutcome::Interrupted: return "interrupted";
    case JobOutcome::Cutoff: return "cutoff";
  }
  return "?";
}

namespace {

constexpr int schema_version = 7;

// Each entry brings the schema from version i to i+1.
const char* const migrations[] = {
    R"sql(
CREATE TABLE instances(
  key TEXT PRIMARY KEY, type TEXT NOT NULL, identifier TEXT NOT NULL,
  uuid TEXT NOT NULL, hash TEXT NOT NULL, fields BLOB NOT NULL, outputs BLOB NOT NULL,
  deps BLOB NOT NULL, status TEXT NOT NULL, action TEXT NOT NULL, error TEXT NOT NULL,
  run INTEGER NOT NULL, updated TEXT NOT NULL);
CREATE TABLE roots(source TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY(source, key));
CREATE TABLE runs(
  id INTEGER PRIMARY KEY, command TEXT NOT NULL, source TEXT NOT NULL,
  started TEXT NOT NULL, ended TEXT, outcome TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL, host TEXT NOT NULL, user TEXT NOT NULL);
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  key TEXT NOT NULL, uuid TEXT NOT NULL, action TEXT NOT NULL, started TEXT, ended TEXT,
  outcome TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', output TEXT NOT NULL DEFAULT '');
CREATE INDEX jobs_by_key ON jobs(key);
CREATE TABLE versions(
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, uuid TEXT NOT NULL, hash TEXT NOT NULL,
  fields BLOB NOT NULL, outputs BLOB NOT NULL, action TEXT NOT NULL,
  run INTEGER NOT NULL, job INTEGER NOT NULL, at TEXT NOT NULL);
CREATE INDEX versions_by_key ON versions(key);
)sql",
    // 2: each instance keeps its type's breaking fields, so ids can be recomputed from
    // the state alone (state mv). Rows from version 1 get theirs at their next job.
    R"sql(
ALTER TABLE instances ADD COLUMN breaks BLOB;
)sql",
    // 3: each instance keeps its type's sensitive fields, so views without the pipeline
    // (state show, history) can mask them.
    R"sql(
ALTER TABLE instances ADD COLUMN sensitive BLOB;
)sql",
    // 4: the outbox of notifications, written with what they report, delivered later.
    // `seq` keeps the order of events; `delivered` stays NULL until a 2xx answer.
    R"sql(
CREATE TABLE outbox(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, url TEXT NOT NULL,
  body TEXT NOT NULL, signature TEXT NOT NULL, run INTEGER NOT NULL, created TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '',
  delivered TEXT);
CREATE INDEX outbox_undelivered ON outbox(seq) WHERE delivered IS NULL;
)sql",
    // 5: an instance applied with lifecycle protect = true keeps the flag, so a plan
    // that deletes it is refused even once the pipeline no longer declares it.
    R"sql(
ALTER TABLE instances ADD COLUMN protect INTEGER NOT NULL DEFAULT 0;
)sql",
    // 6: facts about the state itself: its random key for sensitive values' hashes
    // ("hash_key", see adopt_hash_key).
    R"sql(
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
    // 7: no query reads jobs by key (a key's history is its versions), yet each job
    // paid for an insert into that index at a random place: a twentieth of a first apply.
    R"sql(
DROP INDEX IF EXISTS jobs_by_key;
)sql",
};
static_assert(sizeof migrations / sizeof migrations[0] == schema_version);

// A new state file, its schema written beside its place and then linked there, so that
// no reader and no crash finds it half made; it costs two syncs (the file, then its
// directory) where switching an empty file to WAL and writing the schema in it took six.
// False, having left nothing, when that fails: the caller makes it in place, as before.
bool make_state_file(const std::string& path, const std::filesystem::path& dir) {
  std::string tmp = path + ".new-" + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::close(fd);
  sqlite3* db = nullptr;
  bool ok = sqlite3_open_v2(tmp.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK;
  std::string sql = "PRAGMA synchronous = OFF; PRAGMA journal_mode = WAL; BEGIN;";
  for (const char* m : migrations) sql += m;
  sql += "PRAGMA user_version = " + std::to_string(schema_version) + "; COMMIT;";
  ok = ok && sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  ok = sqlite3_close(db) == SQLITE_OK && ok;  // (writes the log into the file, removes it)
  if (ok) {
    fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    ok = fd >= 0 && fdatasync(fd) == 0;
    if (fd >= 0) ::close(fd);
  }
  // Another ochre's file, made meanwhile, is the state: as with O_EXCL.
  ok = ok && (::link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST);
  if (ok) {
    fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
  }
  for (const char* end : {"", "-wal", "-shm", "-journal"}) ::unlink((tmp + end).c_str());
  return ok;
}

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

class SqliteState;

// A prepared statement, taken from the store's cache (prepared once per SQL text) and
// reset for the next use when it goes out of scope.
class Stmt {
 public:
  Stmt(SqliteState& st, const char* sql);
  // Text is bound without SQLite copying it: a temporary string is kept by the Stmt, a
  // named one (or a literal) is read where it is, so it must outlive the Stmt.
  Stmt& bind(int i, std::string&& text) {
    if (i > kKept) return bind_copy(i, text);
    kept_[i - 1] = std::move(text);
    return bind_static(i, kept_[i - 1]);
  }
  Stmt& bind(int i, const std::string& text) { return bind_static(i, text); }
  Stmt& bind(int i, const char* text) { return bind_static(i, text); }
  template <size_t N>
  Stmt& bind(int i, const ShortText<N>& text) { return bind_static(i, text.view()); }
  // Fields as their canonical encoding: the one they keep (no copy), else made anew.
  Stmt& bind(int i, const PackedFields& fields) {
    if (const std::string* e = fields.encoding()) return bind_static(i, *e);
    return bind(i, encode_fields(fields));
  }
  Stmt& bind(int i, long long n) {
    sqlite3_bind_int64(s_, i, n);
    return *this;
  }
  bool step();  // true while a row is available
  void run() {
    while (step()) {
    }
  }
  std::string text(int col) const { return std::string(view(col)); }
  // Valid until the next step.
  std::string_view view(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string_view(p, sqlite3_column_bytes(s_, col)) : std::string_view();
  }
  long long integer(int col) const { return sqlite3_column_int64(s_, col); }
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

 private:
  Stmt& bind_static(int i, std::string_view text) {
    sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind_copy(int i, std::string_view text) {
    sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }

  static constexpr int kKept = 16;
  std::string kept_[kKept];  // the temporaries bound, by parameter
  SqliteState& st_;
  sqlite3_stmt* s_;
};

class SqliteState final : public StateStore {
 public:
  SqliteState(std::string path, OpenMode mode) : path_(std::move(path)), mode_(mode) {
    if (path_ == ":memory:") {  // a host's throw-away state: lives as long as this object
      mode_ = OpenMode::ReadWrite;
      sqlite3* raw = nullptr;
      int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, nullptr);
      db_.reset(raw);
      if (rc != SQLITE_OK) die(nullptr);
      check_and_migrate();
      return;
    }
    std::error_code ec;
    bool exists = std::filesystem::exists(path_, ec);
    if (!exists && std::filesystem::is_symlink(std::filesystem::symlink_status(path_, ec)))
      fail(Msg::StateDanglingLink, {path_, std::filesystem::read_symlink(path_, ec).string()});
    if (mode == OpenMode::ReadOnly && !exists) return;  // empty, writes nothing
    if (exists && std::filesystem::is_directory(path_, ec))
      fail(Msg::StateIsDirectory, {path_});
    if (!exists) create_file();
    sqlite3* raw = nullptr;
    int flags = mode == OpenMode::ReadOnly ? SQLITE_OPEN_READONLY
                                           : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path_.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) die(nullptr);
    if (mode == OpenMode::ReadOnly && needs_recovery()) {
      // An ochre killed mid-commit left a write-ahead log that only a writable connection
      // may recover; this one still writes nothing of its own.
      db_.reset();
      raw = nullptr;
      rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
      db_.reset(raw);
      if (rc != SQLITE_OK) die(nullptr);
    }
    sqlite3_busy_timeout(db_.get(), 5000);
    check_and_migrate();
  }

  ~SqliteState() override {
    if (begun_ && db_) sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
    if (checkpointer_ && db_) sqlite3_wal_hook(db_.get(), nullptr, nullptr);
  }

  const std::string& location() const override { return path_; }
  sqlite3* db() { return db_.get(); }

  // Whether this read-only connection cannot read the file until its write-ahead log is
  // recovered (SQLITE_READONLY_RECOVERY and kin), which takes a writable connection.
  bool needs_recovery() {
    sqlite3_busy_timeout(db_.get(), 5000);
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db_.get(), "SELECT count(*) FROM sqlite_master", -1, &q, nullptr) != SQLITE_OK) {
      int code = sqlite3_extended_errcode(db_.get());
      return (code & 0xff) == SQLITE_READONLY;
    }
    int rc = sqlite3_step(q);
    int code = rc == SQLITE_ROW ? SQLITE_OK : sqlite3_extended_errcode(db_.get());
    sqlite3_finalize(q);
    return (code & 0xff) == SQLITE_READONLY;
  }

  // The prepared statement for `sql` (a string literal: its address is the key).
  sqlite3_stmt* prepared(const char* sql) {
    auto it = cache_.map.find(sql);
    if (it != cache_.map.end()) return it->second;
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) die("prepare");
    cache_.map.emplace(sql, raw);
    return raw;
  }

  // Jobs that end in one turn of the event loop share one commit (see apply.cpp); a
  // batch inside a batch joins it.
  // A batch begins its transaction at its first statement: one with nothing to write
  // (a turn of the loop in which no job started or ended) costs nothing.
  void begin_batch() override {
    if (!db_ || mode_ == OpenMode::ReadOnly) return;
    ++batch_depth_;
  }
  void commit_batch() override {
    if (batch_depth_ == 0) return;
    if (--batch_depth_ > 0 || !begun_) return;
    begun_ = false;
    run_sql("COMMIT");
  }
  // Before each statement: the batch's transaction, if it has not begun yet.
  void in_batch() {
    if (batch_depth_ == 0 || begun_) return;
    begun_ = true;
    run_sql("BEGIN IMMEDIATE");
  }
  // `step` is what failed ("open", "prepare", "query"); null while opening the file.
  [[noreturn]] void die(const char* step) {
    if (db_ && sqlite3_errcode(db_.get()) == SQLITE_NOTADB) fail(Msg::StateNotSqlite, {path_});
    std::string why = db_ ? sqlite3_errmsg(db_.get()) : message(Msg::OutOfMemory);
    if (!step) fail(Msg::StateCannotOpen, {path_, why});
    fail(Msg::StateStep, {path_, step, why});
  }

  // Runs `sql` (a string literal) through the cache of prepared statements: the
  // transactions of every job would otherwise parse their SQL each time.
  void run_sql(const char* sql);

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "?";
      sqlite3_free(err);
      if (sqlite3_errcode(db_.get()) == SQLITE_NOTADB) die("open");
      fail(Code::State, {path_, m});  // SQLite's own message
    }
  }

  // In the order the rows were written: mostly the order the last apply walked the
  // graph in, which the next plan walks again (it finds row after row in sequence).
  std::vector<StoredInstance> load() override {
    std::vector<StoredInstance> out;
    if (!db_) return out;
    {
      Stmt count(*this, "SELECT count(*) FROM instances");
      if (count.step()) out.reserve(static_cast<size_t>(count.integer(0)));
    }
    Stmt q(*this,
           version_ >= 5   ? "SELECT key, type, identifier, uuid, hash, fields, outputs, deps, status, "
                             "action, error, run, breaks, sensitive, protect FROM instances ORDER BY rowid"
           : version_ >= 3 ? "SELECT key, type, identifier, uuid, hash, fields, outputs, deps, status, "
                             "action, error, run, breaks, sensitive, 0 FROM instances ORDER BY rowid"
           : version_ >= 2 ? "SELECT key, type, identifier, uuid, hash, fields, outputs, deps, status, "
                             "action, error, run, breaks, NULL, 0 FROM instances ORDER BY rowid"
                           : "SELECT key, type, identifier, uuid, hash, fields, outputs, deps, status, "
                             "action, error, run, NULL, NULL, 0 FROM instances ORDER BY rowid");
    RowText row;  // its strings keep their room from row to row
    while (q.step()) {
      StoredInstance s;
      s.key = q.text(0);
      s.type = q.text(1);
      s.identifier = q.text(2);
      s.uuid = q.view(3);
      s.hash = q.view(4);
      row.fields = q.view(5);
      row.outputs = q.view(6);
      row.deps = q.view(7);
      row.status = q.view(8);
      row.action = q.view(9);
      row.breaks = q.view(12);
      row.sensitive = q.view(13);
      decode_instance_row(path_, row, s);
      s.error = q.view(10);
      s.run = q.integer(11);
      s.protect = q.integer(14) != 0;
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<std::pair<std::string, std::vector<std::string>>> recorded_sensitive() override {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    if (!db_ || version_ < 3) return out;
    // length() > 2: not NULL and not the empty list "le", whether stored as text or blob.
    Stmt q(*this, "SELECT DISTINCT type, sensitive FROM instances WHERE length(sensitive) > 2");
    try {
      while (q.step()) out.emplace_back(q.text(0), decode_keys(q.view(1)));
    } catch (const Error&) {
      return StateStore::recorded_sensitive();  // the damaged row, named as load() names it
    }
    return out;
  }

  // The file's identity and SQLite's data_version, which changes when another
  // connection commits (a read transaction of its own each time it is asked).
  std::optional<std::string> change_token() override {
    struct stat st;
    if (!db_ || path_ == ":memory:" || ::stat(path_.c_str(), &st) != 0) return std::nullopt;
    Stmt q(*this, "PRAGMA data_version");
    if (!q.step()) return std::nullopt;
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(q.integer(0));
  }

  std::vector<std::pair<std::string, std::string>> roots() override {
    std::vector<std::pair<std::string, std::string>> out;
    if (!db_) return out;
    Stmt q(*this, "SELECT source, key FROM roots ORDER BY source, key");
    while (q.step()) out.emplace_back(q.text(0), q.text(1));
    return out;
  }

  long long begin_run(const RunInfo& info) override {
    writable();
    Stmt q(*this,
           "INSERT INTO runs(command, source, started, outcome, pid, host, user) "
           "VALUES(?, ?, ?, 'running', ?, ?, ?)");
    q.bind(1, info.command).bind(2, info.source).bind(3, state_now()).bind(4, (long long)getpid())
        .bind(5, host_name()).bind(6, user_name()).run();
    return sqlite3_last_insert_rowid(db_.get());
  }

  void end_run(long long run, const std::string& outcome, const std::string& summary) override {
    writable();
    Stmt q(*this, "UPDATE runs SET ended = ?, outcome = ?, summary = ? WHERE id = ?");
    q.bind(1, state_now()).bind(2, outcome).bind(3, summary).bind(4, run).run();
  }

  void set_roots(const std::string& source, const std::vector<std::string>& keys) override {
    writable();
    Transaction t(*this);
    Stmt(*this, "DELETE FROM roots WHERE source = ?").bind(1, source).run();
    for (const auto& k : keys)
      Stmt(*this, "INSERT OR IGNORE INTO roots(source, key) VALUES(?, ?)").bind(1, source).bind(2, k).run();
    t.commit();
  }

  long long job_started(long long run, int seq, Action action,
                        const StoredInstance& target) override {
    writable();
    Transaction t(*this);
    Stmt(*this,
         "INSERT INTO jobs(run, seq, key, uuid, action, started, outcome) "
         "VALUES(?, ?, ?, ?, ?, ?, 'running')")
        .bind(1, run).bind(2, seq).bind(3, target.key).bind(4, target.uuid)
        .bind(5, action_name(action)).bind(6, state_now()).run();
    long long job = sqlite3_last_insert_rowid(db_.get());
    if (action == Action::Create) {
      // Recorded with the attempted fields, so an interrupted create can still be deleted.
      upsert(target, Status::Running, action, target.error, run, target.outputs);
    } else {
      Stmt(*this, "UPDATE instances SET status = 'running', action = ?, run = ?, updated = ? WHERE key = ?")
          .bind(1, action_name(action)).bind(2, run).bind(3, state_now()).bind(4, target.key).run();
    }
    t.commit();
    return job;
  }

  void job_finished(long long job, Action action, const StoredInstance& target,
                    const JobOutcome& outcome) override {
    writable();
    Transaction t(*this);
    std::string now = state_now();
    Stmt(*this, "UPDATE jobs SET ended = ?, outcome = ?, error = ?, output = ? WHERE id = ?")
        .bind(1, now).bind(2, outcome_name(outcome.kind)).bind(3, outcome.error)
        .bind(4, outcome.output).bind(5, job).run();
    long long run = 0;
    {
      Stmt q(*this, "SELECT run FROM jobs WHERE id = ?");
      q.bind(1, job);
      if (q.step()) run = q.integer(0);
    }
    record_outcome(job, run, action, target, outcome, now, false);
    t.commit();
  }

  // The instance as a job's outcome leaves it, and its version when it finished.
  // `fresh`: no job_started wrote the row before (job_done).
  void record_outcome(long long job, long long run, Action action, const StoredInstance& target,
                      const JobOutcome& outcome, const std::string& now, bool fresh) {
    if (outcome.applied()) {
      if (action == Action::Delete) {
        Stmt(*this, "DELETE FROM instances WHERE key = ?").bind(1, target.key).run();
      } else {
        upsert(target, Status::Ok, action, std::string(), run, outcome.outputs);
      }
      Stmt(*this,
           "INSERT INTO versions(key, uuid, hash, fields, outputs, action, run, job, at) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(1, target.key).bind(2, target.uuid).bind(3, target.hash)
          .bind(4, target.fields)
          .bind(5, encode(action == Action::Delete ? target.outputs : outcome.outputs))
          .bind(6, version_action(action, outcome)).bind(7, run).bind(8, job).bind(9, now).run();
      return;
    }
    Status st = outcome.kind == JobOutcome::Pending ? Status::Pending : Status::Failed;
    // The journal keeps the whole message; the instance says what the planner reads.
    std::string error = outcome.kind == JobOutcome::Interrupted ? "interrupted" : outcome.error;
    if (fresh && action == Action::Create) {  // as job_started would have recorded it
      upsert(target, st, action, error, run, target.outputs);
      return;
    }
    if (fresh)
      Stmt(*this, "UPDATE instances SET run = ? WHERE key = ?").bind(1, run).bind(2, target.key).run();
    Stmt(*this, "UPDATE instances SET status = ?, action = ?, error = ?, updated = ? WHERE key = ?")
        .bind(1, status_name(st)).bind(2, action_name(action)).bind(3, error)
        .bind(4, now).bind(5, target.key).run();
  }

  // One transaction for what job_started and job_finished would write: the job runs no
  // code of the user's, so its start need not be durable on its own.
  long long job_done(long long run, int seq, Action action, const StoredInstance& target,
                     const JobOutcome& outcome) override {
    writable();
    Transaction t(*this);
    std::string now = state_now();
    Stmt(*this,
         "INSERT INTO jobs(run, seq, key, uuid, action, started, ended, outcome, error, output) "
         "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, run).bind(2, seq).bind(3, target.key).bind(4, target.uuid)
        .bind(5, action_name(action)).bind(6, now).bind(7, now).bind(8, outcome_name(outcome.kind))
        .bind(9, outcome.error).bind(10, outcome.output).run();
    long long job = sqlite3_last_insert_rowid(db_.get());
    record_outcome(job, run, action, target, outcome, now, true);
    t.commit();
    return job;
  }

  void job_skipped(long long run, int seq, Action action, const std::string& key,
                   const std::string& uuid, const std::string& why) override {
    writable();
    Stmt(*this,
         "INSERT INTO jobs(run, seq, key, uuid, action, outcome, error) "
         "VALUES(?, ?, ?, ?, ?, 'skipped', ?)")
        .bind(1, run).bind(2, seq).bind(3, key).bind(4, uuid).bind(5, action_name(action))
        .bind(6, why).run();
  }

  std::vector<std::string> recover_interrupted() override {
    writable();
    std::vector<std::string> keys;
    {
      // A job or an instance is left running only inside a run left running: when there
      // is none, the journal and the instances need no scan (100,000s of rows).
      Stmt q(*this, "SELECT 1 FROM runs WHERE outcome = 'running' LIMIT 1");
      if (!q.step()) return keys;
    }
    Transaction t(*this);
    {
      Stmt q(*this, "SELECT key FROM jobs WHERE outcome = 'running' ORDER BY id");
      while (q.step()) keys.push_back(q.text(0));
    }
    std::string now = state_now();
    Stmt(*this, "UPDATE jobs SET outcome = 'interrupted', ended = ? WHERE outcome = 'running'")
        .bind(1, now).run();
    Stmt(*this, "UPDATE instances SET status = 'failed', error = 'interrupted' WHERE status = 'running'").run();
    Stmt(*this, "UPDATE runs SET outcome = 'interrupted' WHERE outcome = 'running'").run();
    t.commit();
    return keys;
  }

  std::vector<RunRecord> runs(int limit) override {
    std::vector<RunRecord> out;
    if (!db_) return out;
    Stmt q(*this,
           "SELECT id, command, source, started, ifnull(ended, ''), outcome, summary, pid, host, user "
           "FROM runs ORDER BY id DESC LIMIT ?");
    q.bind(1, limit > 0 ? static_cast<long long>(limit) : -1LL);
    while (q.step()) {
      RunRecord r;
      r.id = q.integer(0);
      r.command = q.text(1);
      r.source = q.text(2);
      r.started = q.text(3);
      r.ended = q.text(4);
      r.outcome = q.text(5);
      r.summary = q.text(6);
      r.pid = q.integer(7);
      r.host = q.text(8);
      r.user = q.text(9);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<JobRecord> jobs_of_run(long long run) override {
    std::vector<JobRecord> out;
    if (!db_) return out;
    Stmt q(*this,
           "SELECT id, run, seq, key, uuid, action, ifnull(started, ''), ifnull(ended, ''), outcome, "
           "error, output FROM jobs WHERE run = ? ORDER BY seq, id");
    q.bind(1, run);
    while (q.step()) out.push_back(job_row(q));
    return out;
  }

  std::vector<VersionRecord> versions(const std::string& key) override {
    std::vector<VersionRecord> out;
    if (!db_) return out;
    Stmt q(*this,
           "SELECT run, job, key, uuid, hash, action, at, fields, outputs FROM versions "
           "WHERE key = ? ORDER BY id DESC");
    q.bind(1, key);
    while (q.step()) out.push_back(version_row(q));
    return out;
  }

  void outbox_add(const std::vector<OutboxEvent>& events) override {
    if (events.empty()) return;
    writable();
    Transaction t(*this);
    std::string now = state_now();
    for (const OutboxEvent& e : events)
      Stmt(*this,
           "INSERT INTO outbox(id, event, url, body, signature, run, created, attempts, next_at) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, 0, ?)")
          .bind(1, e.id).bind(2, e.event).bind(3, e.url).bind(4, e.body).bind(5, e.signature)
          .bind(6, e.run).bind(7, now).bind(8, e.next_at).run();
    t.commit();
  }

  std::vector<OutboxEvent> outbox_due(long long now_ms, int limit) override {
    std::vector<OutboxEvent> out;
    if (!db_ || version_ < 4) return out;
    Stmt q(*this,
           "SELECT id, event, url, body, signature, run, attempts, next_at, error FROM outbox "
           "WHERE delivered IS NULL AND next_at <= ? ORDER BY seq LIMIT ?");
    q.bind(1, now_ms).bind(2, static_cast<long long>(limit));
    while (q.step()) {
      OutboxEvent e;
      e.id = q.text(0);
      e.event = q.text(1);
      e.url = q.text(2);
      e.body = q.text(3);
      e.signature = q.text(4);
      e.run = q.integer(5);
      e.attempts = static_cast<int>(q.integer(6));
      e.next_at = q.integer(7);
      e.error = q.text(8);
      out.push_back(std::move(e));
    }
    return out;
  }

  void outbox_delivered(const std::string& id) override {
    writable();
    Stmt(*this,
         "UPDATE outbox SET delivered = ?, attempts = attempts + 1, error = '' "
         "WHERE id = ? AND delivered IS NULL")
        .bind(1, state_now()).bind(2, id).run();
  }

  void outbox_retry(const std::string& id, int attempts, long long next_at,
                    const std::string& error) override {
    writable();
    Stmt(*this, "UPDATE outbox SET attempts = ?, next_at = ?, error = ? WHERE id = ? AND delivered IS NULL")
        .bind(1, static_cast<long long>(attempts)).bind(2, next_at).bind(3, error).bind(4, id).run();
  }

  std::vector<Submission> submissions(const std::string& key) override {
    std::vector<Submission> out;
    if (!db_ || !submissions_table(false)) return out;
    Stmt q(*this, "SELECT slot, token, job_id, dir, digest FROM cluster_jobs WHERE key = ? ORDER BY slot");
    q.bind(1, key);
    while (q.step())
      out.push_back({key, static_cast<int>(q.integer(0)), q.text(1), q.text(2), q.text(3), q.text(4)});
    return out;
  }

  void put_submission(const Submission& s) override {
    writable();
    submissions_table(true);
    Stmt(*this, "INSERT OR REPLACE INTO cluster_jobs(key, slot, token, job_id, dir, digest) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(1, s.key).bind(2, static_cast<long long>(s.slot)).bind(3, s.token).bind(4, s.job_id)
        .bind(5, s.dir).bind(6, s.digest).run();
  }

  void drop_submissions(const std::string& key) override {
    writable();
    if (!submissions_table(false)) return;
    Stmt(*this, "DELETE FROM cluster_jobs WHERE key = ?").bind(1, key).run();
  }

  void forget(const std::string& key) override {
    writable();
    Transaction t(*this);
    Stmt(*this, "DELETE FROM instances WHERE key = ?").bind(1, key).run();
    Stmt(*this, "DELETE FROM roots WHERE key = ?").bind(1, key).run();
    t.commit();
  }

  void set_breaks(const std::string& key, const std::vector<std::string>& breaks) override {
    writable();
    Stmt(*this, "UPDATE instances SET breaks = ? WHERE key = ?").bind(1, encode_keys(breaks)).bind(2, key).run();
  }

  void set_protect(const std::string& key, bool protect) override {
    writable();
    Stmt(*this, "UPDATE instances SET protect = ? WHERE key = ?").bind(1, protect ? 1LL : 0LL).bind(2, key).run();
  }

  void move(const std::string& from, const std::string& to,
            const std::vector<StoredInstance>& rows) override {
    writable();
    Transaction t(*this);
    Stmt(*this, "DELETE FROM instances WHERE key = ?").bind(1, from).run();
    for (const auto& r : rows) upsert(r);
    Stmt(*this, "UPDATE OR REPLACE roots SET key = ? WHERE key = ?").bind(1, to).bind(2, from).run();
    // Its history follows it: the versions are the same thing under its new name.
    Stmt(*this, "UPDATE versions SET key = ? WHERE key = ?").bind(1, to).bind(2, from).run();
    t.commit();
  }

  std::string hash_key() override {
    if (!db_ || version_ < 6) return {};
    Stmt q(*this, "SELECT value FROM meta WHERE name = 'hash_key'");
    return q.step() ? q.text(0) : std::string();
  }

  void adopt_hash_key(const std::string& key) override {
    writable();
    Stmt(*this, "INSERT OR IGNORE INTO meta(name, value) VALUES('hash_key', ?)").bind(1, key).run();
  }

  Snapshot snapshot() override {
    Snapshot s;
    if (!db_) return s;
    s.hash_key = hash_key();
    s.instances = load();
    s.roots = roots();
    s.runs = runs(0);
    std::reverse(s.runs.begin(), s.runs.end());
    {
      Stmt q(*this,
             "SELECT id, run, seq, key, uuid, action, ifnull(started, ''), ifnull(ended, ''), outcome, "
             "error, output FROM jobs ORDER BY id");
      while (q.step()) s.jobs.push_back(job_row(q));
    }
    Stmt q(*this, "SELECT run, job, key, uuid, hash, action, at, fields, outputs FROM versions ORDER BY id");
    while (q.step()) s.versions.push_back(version_row(q));
    return s;
  }

  void restore(const Snapshot& s) override {
    writable();
    {
      Stmt q(*this, "SELECT (SELECT count(*) FROM instances) + (SELECT count(*) FROM runs)");
      if (q.step() && q.integer(0) != 0)
        fail(Msg::StateNotEmptyFile, {path_});
    }
    Transaction t(*this);
    if (!s.hash_key.empty())
      Stmt(*this, "INSERT OR REPLACE INTO meta(name, value) VALUES('hash_key', ?)").bind(1, s.hash_key).run();
    // New ids, in the same order.
    std::unordered_map<long long, long long> run_ids, job_ids;
    for (const RunRecord& r : s.runs) {
      Stmt(*this,
           "INSERT INTO runs(command, source, started, ended, outcome, summary, pid, host, user) "
           "VALUES(?, ?, ?, nullif(?, ''), ?, ?, ?, ?, ?)")
          .bind(1, r.command).bind(2, r.source).bind(3, r.started).bind(4, r.ended).bind(5, r.outcome)
          .bind(6, r.summary).bind(7, r.pid).bind(8, r.host).bind(9, r.user).run();
      run_ids[r.id] = sqlite3_last_insert_rowid(db_.get());
    }
    for (const JobRecord& j : s.jobs) {
      Stmt(*this,
           "INSERT INTO jobs(run, seq, key, uuid, action, started, ended, outcome, error, output) "
           "VALUES(?, ?, ?, ?, ?, nullif(?, ''), nullif(?, ''), ?, ?, ?)")
          .bind(1, run_ids[j.run]).bind(2, (long long)j.seq).bind(3, j.key).bind(4, j.uuid).bind(5, j.action)
          .bind(6, j.started).bind(7, j.ended).bind(8, j.outcome).bind(9, j.error).bind(10, j.output).run();
      job_ids[j.id] = sqlite3_last_insert_rowid(db_.get());
    }
    for (const VersionRecord& v : s.versions)
      Stmt(*this,
           "INSERT INTO versions(key, uuid, hash, fields, outputs, action, run, job, at) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(1, v.key).bind(2, v.uuid).bind(3, v.hash).bind(4, v.fields)
          .bind(5, encode(v.outputs)).bind(6, v.action).bind(7, run_ids[v.run]).bind(8, job_ids[v.job])
          .bind(9, v.at).run();
    for (StoredInstance i : s.instances) {
      i.run = run_ids[i.run];
      upsert(i);
    }
    for (const auto& [source, key] : s.roots)
      Stmt(*this, "INSERT OR IGNORE INTO roots(source, key) VALUES(?, ?)").bind(1, source).bind(2, key).run();
    t.commit();
  }

 private:
  // One transaction; inside a batch, part of the batch's. A write that fails there
  // rolls the whole batch back: its jobs are found unfinished by the next run, as after
  // a crash while it committed. (A savepoint per job would copy every page the job
  // touches into a statement journal, spilled to a temporary file: more than the job's
  // own writes.)
  class Transaction {
   public:
    explicit Transaction(SqliteState& st) : st_(st), nested_(st.batch_depth_ > 0) {
      if (!nested_) st_.run_sql("BEGIN IMMEDIATE");
    }
    void commit() {
      if (!nested_) st_.run_sql("COMMIT");
      done_ = true;
    }
    ~Transaction() {
      if (done_) return;
      sqlite3_exec(st_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
      if (nested_) st_.batch_depth_ = 0, st_.begun_ = false;  // the whole batch is gone
    }

   private:
    SqliteState& st_;
    bool nested_;
    bool done_ = false;
  };

  static JobRecord job_row(const Stmt& q) {
    JobRecord j;
    j.id = q.integer(0);
    j.run = q.integer(1);
    j.seq = static_cast<int>(q.integer(2));
    j.key = q.text(3);
    j.uuid = q.text(4);
    j.action = q.text(5);
    j.started = q.text(6);
    j.ended = q.text(7);
    j.outcome = q.text(8);
    j.error = q.text(9);
    j.output = q.text(10);
    return j;
  }

  VersionRecord version_row(const Stmt& q) {
    VersionRecord v;
    v.run = q.integer(0);
    v.job = q.integer(1);
    v.key = q.text(2);
    v.uuid = q.text(3);
    v.hash = q.text(4);
    v.action = q.text(5);
    v.at = q.text(6);
    decode_version(path_, q.view(7), q.view(8), v);
    return v;
  }

  void writable() {
    if (!db_ || mode_ == OpenMode::ReadOnly) fail(Msg::ReadOnlyWrite);
  }

  // Whether the table of cluster submissions exists; made when `create` (it is not part
  // of the versioned schema: a state that never ran a cluster job has none).
  bool submissions_table(bool create) {
    if (has_submissions_) return true;
    {
      Stmt q(*this, "SELECT count(*) FROM sqlite_master WHERE name = 'cluster_jobs'");
      has_submissions_ = q.step() && q.integer(0) > 0;
    }
    if (!has_submissions_ && create) {
      exec("CREATE TABLE IF NOT EXISTS cluster_jobs(key TEXT NOT NULL, slot INTEGER NOT NULL, token TEXT NOT NULL, "
           "job_id TEXT NOT NULL, dir TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY(key, slot))");
      has_submissions_ = true;
    }
    return has_submissions_;
  }

  void create_file() {
    std::error_code ec;
    auto dir = std::filesystem::path(path_).parent_path();
    if (!dir.empty()) {
      std::filesystem::create_directories(dir, ec);
      if (ec) fail(Msg::StateMkdir, {path_, dir.string(), ec.message()});
    }
    if (make_state_file(path_, dir)) return;
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) fail(Code::State, {path_, std::strerror(errno)});
    if (fd >= 0) ::close(fd);
  }

  // The file's schema version, whether it has the instances table, and whether it holds
  // any table: one statement, so one snapshot (a writer creating the schema commits
  // between two statements, and a reader would see a version 0 file with tables).
  struct Found {
    int version = 0;
    bool instances = false, tables = false;
  };
  Found found() {
    Stmt q(*this,
           "SELECT (SELECT user_version FROM pragma_user_version), "
           "(SELECT count(*) FROM sqlite_master WHERE name = 'instances'), (SELECT count(*) FROM sqlite_master)");
    Found f;
    if (q.step()) {
      f.version = static_cast<int>(q.integer(0));
      f.instances = q.integer(1) == 1;
      f.tables = q.integer(2) != 0;
    }
    return f;
  }

  void check_and_migrate() {
    Found f = found();
    int version = f.version;
    if (version > schema_version)
      fail(Code::StateVersion, {path_, std::to_string(version), std::to_string(schema_version)});
    if (version > 0) {
      if (!f.instances) fail(Msg::StateNoInstancesTable, {path_});
    } else if (f.tables) {
      fail(Msg::StateForeignSqlite, {path_});
    }
    version_ = version;
    if (mode_ == OpenMode::ReadOnly && version == 0) {
      // No schema yet (a first run creating it, or an ochre killed while it did): read as
      // an empty state, as a missing file is; the next writer creates the schema.
      for (auto& [sql, stmt] : cache_.map) sqlite3_finalize(stmt);
      cache_.map.clear();
      db_.reset();
      return;
    }
    if (mode_ == OpenMode::ReadOnly) return;  // an older schema is read as it is
    version_ = schema_version;
    if (path_ != ":memory:") exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    // A checkpoint waits for the disk twice. At SQLite's 1,000 pages a first apply of
    // 10,000 jobs made four, a fifth of its time; at 10,000 pages (a WAL of up to 40 MB,
    // reset after each) such a run makes none before its end, and a larger one has them
    // made by another thread (wal_checkpointer.hpp).
    if (path_ != ":memory:") {
      checkpointer_ = std::make_unique<WalCheckpointer>(path_, 10000);
      checkpointer_->attach(db_.get());
    }
    exec("PRAGMA foreign_keys = ON");
    // All steps in one transaction: a reader sees no schema or the whole of it. Another
    // writer may have made it since it was read: read again under the write lock.
    Transaction t(*this);
    Found now = found();
    if (now.version > version && now.version <= schema_version) version = now.version;
    for (int v = version; v < schema_version; ++v) exec(migrations[v]);
    if (version < schema_version) exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    t.commit();
  }

  void upsert(const StoredInstance& s) { upsert(s, s.status, s.action, s.error, s.run, s.outputs); }
  // Writes `s` with these in place of its own.
  void upsert(const StoredInstance& s, Status status, Action action, const std::string& error,
              long long run, const Value& outputs) {
    Stmt(*this,
         "INSERT OR REPLACE INTO instances(key, type, identifier, uuid, hash, fields, outputs, "
         "deps, status, action, error, run, updated, breaks, sensitive, protect) "
         "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        .bind(1, s.key).bind(2, s.type).bind(3, s.identifier).bind(4, s.uuid).bind(5, s.hash)
        .bind(6, s.fields).bind(7, encode(outputs))
        .bind(8, encode_keys(s.deps)).bind(9, status_name(status)).bind(10, action_name(action))
        .bind(11, error).bind(12, run).bind(13, state_now()).bind(14, encode_keys(s.breaks))
        .bind(15, encode_keys(s.sensitive)).bind(16, s.protect ? 1LL : 0LL).run();
  }

  std::string path_;
  OpenMode mode_;
  int version_ = schema_version;  // of the file as opened
  bool has_submissions_ = false;  // the cluster_jobs table is known to exist
  std::unique_ptr<sqlite3, DbClose> db_;
  // Declared after db_, so destroyed first: the statements are finalized before the
  // connection closes, on every way out (a constructor that throws included).
  struct StmtCache {
    std::unordered_map<const char*, sqlite3_stmt*> map;
    ~StmtCache() {
      for (auto& [sql, stmt] : map) sqlite3_finalize(stmt);
    }
  } cache_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // stopped before db_ closes
  int batch_depth_ = 0;  // begin_batch calls not committed yet
  bool begun_ = false;   // the batch's transaction began (at its first statement)
};

Stmt::Stmt(SqliteState& st, const char* sql) : st_(st), s_((st.in_batch(), st.prepared(sql))) {}

void SqliteState::run_sql(const char* sql) { Stmt(*this, sql).run(); }

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  st_.die("query");
}

}  // namespace

std::unique_ptr<StateStore> open_sqlite_state(const std::string& path, OpenMode mode) {
  return std::make_unique<SqliteState>(path, mode);
}

}  // namespace ochre
