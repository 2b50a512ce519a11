// The PostgreSQL state store: one schema (default "ochre") holds any number of
// workspaces, each a state of its own with its own lock. Every value ochre writes goes
// over the wire in binary, and the writes of one job (or of one batch of jobs) travel in
// one pipeline: one round trip, one transaction.
// Longer than most files on purpose: like state_sqlite.cpp it is one implementation of
// the StateStore interface over one connection and its prepared statements; the wire
// encoding and the connection live in pq.cpp.
#include <endian.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "engine/lock.hpp"
#include "engine/pq.hpp"
#include "engine/state.hpp"
#include "engine/state_rows.hpp"
#include "ochre/errors.hpp"

namespace ochre {

namespace {

constexpr int schema_version = 4;

// Each entry brings the schema from version i to i+1. "{S}" is the schema's quoted name.
const char* const migrations[] = {
    R"sql(
CREATE TABLE {S}.workspaces(id serial PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE {S}.instances(
  ws int NOT NULL REFERENCES {S}.workspaces(id), key bytea NOT NULL, type bytea NOT NULL,
  identifier bytea NOT NULL, uuid text NOT NULL, hash text NOT NULL, fields bytea NOT NULL,
  outputs bytea NOT NULL, deps bytea NOT NULL, status text NOT NULL, action text NOT NULL,
  error bytea NOT NULL, run bigint NOT NULL, updated text NOT NULL, breaks bytea,
  sensitive bytea, PRIMARY KEY(ws, key));
CREATE TABLE {S}.roots(ws int NOT NULL, source bytea NOT NULL, key bytea NOT NULL,
  PRIMARY KEY(ws, source, key));
CREATE TABLE {S}.runs(
  id bigserial PRIMARY KEY, ws int NOT NULL, command text NOT NULL, source bytea NOT NULL,
  started text NOT NULL, ended text, outcome text NOT NULL, summary bytea NOT NULL,
  pid bigint NOT NULL, host bytea NOT NULL, "user" bytea NOT NULL);
CREATE INDEX runs_by_ws ON {S}.runs(ws, id);
CREATE TABLE {S}.jobs(
  id bigserial PRIMARY KEY, ws int NOT NULL, run bigint NOT NULL REFERENCES {S}.runs(id),
  seq int NOT NULL, key bytea NOT NULL, uuid text NOT NULL, action text NOT NULL,
  started text, ended text, outcome text NOT NULL, error bytea NOT NULL, output bytea NOT NULL);
CREATE INDEX jobs_by_run ON {S}.jobs(run);
CREATE INDEX jobs_running ON {S}.jobs(ws) WHERE outcome = 'running';
CREATE TABLE {S}.versions(
  id bigserial PRIMARY KEY, ws int NOT NULL, key bytea NOT NULL, uuid text NOT NULL,
  hash text NOT NULL, fields bytea NOT NULL, outputs bytea NOT NULL, action text NOT NULL,
  run bigint NOT NULL, job bigint NOT NULL, at text NOT NULL);
CREATE INDEX versions_by_key ON {S}.versions(ws, key);
CREATE TABLE {S}.lock_holders(ws int PRIMARY KEY, holder text NOT NULL);
)sql",
    // 2: the outbox of notifications, written with what they report, delivered later.
    // `seq` keeps the order of events; `delivered` stays NULL until a 2xx answer.
    R"sql(
CREATE TABLE {S}.outbox(
  seq bigserial PRIMARY KEY, ws int NOT NULL, id text NOT NULL UNIQUE, event text NOT NULL,
  url bytea NOT NULL, body bytea NOT NULL, signature text NOT NULL, run bigint NOT NULL,
  created text NOT NULL, attempts int NOT NULL DEFAULT 0, next_at bigint NOT NULL,
  error bytea NOT NULL DEFAULT ''::bytea, delivered text);
CREATE INDEX outbox_undelivered ON {S}.outbox(ws, seq) WHERE delivered IS NULL;
)sql",
    // 3: an instance applied with lifecycle protect = true keeps the flag, so a plan
    // that deletes it is refused even once the pipeline no longer declares it.
    R"sql(
ALTER TABLE {S}.instances ADD COLUMN protect int NOT NULL DEFAULT 0;
)sql",
    // 4: each workspace's random key for sensitive values' hashes, set by workspace_id
    // when it is opened to write.
    R"sql(
ALTER TABLE {S}.workspaces ADD COLUMN hash_key text;
)sql",
};
static_assert(sizeof migrations / sizeof migrations[0] == schema_version);

// The URL without ochre's own parameters, and those parameters.
struct PgLocation {
  std::string conninfo;  // for libpq
  std::string schema = "ochre";
  std::string shown;     // the URL without its password
};

PgLocation parse_location(const std::string& url) {
  PgLocation loc;
  loc.shown = redact_location(url);
  size_t q = url.find('?');
  std::string base = url.substr(0, q);
  std::string params;
  bool has_app = false, has_timeout = false;
  if (q != std::string::npos) {
    std::string rest = url.substr(q + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t end = rest.find('&', start);
      if (end == std::string::npos) end = rest.size();
      std::string p = rest.substr(start, end - start);
      if (p.rfind("schema=", 0) == 0) {
        loc.schema = p.substr(7);
      } else if (!p.empty()) {
        has_app |= p.rfind("application_name=", 0) == 0;
        has_timeout |= p.rfind("connect_timeout=", 0) == 0;
        params += (params.empty() ? "" : "&") + p;
      }
      start = end + 1;
    }
  }
  // Who is connected shows in pg_stat_activity: "ochre pid 1234".
  if (!has_app)
    params += std::string(params.empty() ? "" : "&") + "application_name=ochre%20pid%20" + std::to_string(getpid());
  if (!has_timeout) params += "&connect_timeout=10";
  loc.conninfo = base + "?" + params;
  bool ok = !loc.schema.empty() && loc.schema.size() < 64;
  for (unsigned char c : loc.schema) ok &= std::islower(c) || std::isdigit(c) || c == '_';
  if (!ok || std::isdigit(static_cast<unsigned char>(loc.schema[0])))
    fail(Msg::PgSchemaName, {loc.shown, loc.schema});
  return loc;
}

// A server message on one line: its line breaks and tabs become single spaces.
std::string one_line(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '\n' || ch == '\t' || ch == '\r') ch = ' ';
    if (ch == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Replaces every "{S}" in `sql` by the schema's name.
std::string with_schema(const char* sql, const std::string& schema) {
  std::string out;
  for (const char* p = sql; *p; ++p) {
    if (p[0] == '{' && p[1] == 'S' && p[2] == '}') {
      out += '"' + schema + '"';
      p += 2;
    } else {
      out += *p;
    }
  }
  return out;
}

// Parameters of one statement, all in binary.
class Params {
 public:
  Params& text(std::string_view s) {
    data_.emplace_back(s);
    null_.push_back(false);
    return *this;
  }
  Params& int8(long long n) {
    uint64_t be = htobe64(static_cast<uint64_t>(n));
    data_.emplace_back(reinterpret_cast<const char*>(&be), 8);
    null_.push_back(false);
    return *this;
  }
  Params& int4(int n) {
    uint32_t be = htobe32(static_cast<uint32_t>(n));
    data_.emplace_back(reinterpret_cast<const char*>(&be), 4);
    null_.push_back(false);
    return *this;
  }
  Params& null() {
    data_.emplace_back();
    null_.push_back(true);
    return *this;
  }
  int size() const { return static_cast<int>(data_.size()); }
  // The arrays libpq takes; valid while this object lives and is not changed.
  void arrays(std::vector<const char*>& values, std::vector<int>& lengths, std::vector<int>& formats) const {
    values.clear();
    lengths.clear();
    formats.assign(data_.size(), 1);
    for (size_t i = 0; i < data_.size(); ++i) {
      values.push_back(null_[i] ? nullptr : data_[i].data());
      lengths.push_back(static_cast<int>(data_[i].size()));
    }
  }

 private:
  std::deque<std::string> data_;
  std::vector<bool> null_;
};

// The rows of a query, in binary.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  ~Rows() { pq::PQclear(r_); }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  int size() const { return pq::PQntuples(r_); }
  bool null(int row, int col) const { return pq::PQgetisnull(r_, row, col); }
  std::string text(int row, int col) const { return std::string(view(row, col)); }
  std::string_view view(int row, int col) const {
    return {pq::PQgetvalue(r_, row, col), static_cast<size_t>(pq::PQgetlength(r_, row, col))};
  }
  long long int8(int row, int col) const {
    uint64_t be;
    std::memcpy(&be, pq::PQgetvalue(r_, row, col), 8);
    return static_cast<long long>(be64toh(be));
  }
  int int4(int row, int col) const {
    uint32_t be;
    std::memcpy(&be, pq::PQgetvalue(r_, row, col), 4);
    return static_cast<int>(be32toh(be));
  }
  bool boolean(int row, int col) const { return pq::PQgetvalue(r_, row, col)[0] != 0; }

 private:
  PGresult* r_;
};

// One connection. Statements are prepared once (keyed by their SQL literal's address).
// Queued statements go out in one pipeline and form one transaction: they are sent as
// they are queued and committed, all or nothing, by flush().
class Connection {
 public:
  Connection(const PgLocation& loc) : loc_(loc) {
    pq::load(loc.shown.c_str());
    c_ = pq::PQconnectdb(loc.conninfo.c_str());
    if (!c_ || pq::PQstatus(c_) != CONNECTION_OK) {
      std::string why = message();
      pq::PQfinish(c_);  // the destructor does not run for a constructor that throws
      c_ = nullptr;
      fail(Msg::PgCannotConnect, {loc_.shown, why});
    }
    pq::PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
    // A commit returns once the server has it, before its WAL reaches the disk: as with
    // SQLite's WAL at synchronous=NORMAL, a crash of ochre loses nothing committed; a
    // crash of the server's machine may lose the last fraction of a second, and those
    // jobs run again. Clean restarts lose nothing.
    PGresult* r = pq::PQexec(c_, "SET synchronous_commit = off");
    pq::PQclear(r);
  }
  ~Connection() {
    if (c_) pq::PQfinish(c_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& schema() const { return loc_.schema; }
  const std::string& shown() const { return loc_.shown; }

  std::string message() const {
    std::string m = c_ ? one_line(pq::PQerrorMessage(c_)) : ochre::message(Msg::OutOfMemory);
    return m.empty() ? ochre::message(Msg::UnknownError) : m;
  }

  [[noreturn]] void die(const std::string& what, PGresult* r = nullptr) {
    std::string m = r && pq::PQresultErrorMessage(r)[0] ? one_line(pq::PQresultErrorMessage(r)) : message();
    if (r) pq::PQclear(r);
    if (pq::PQstatus(c_) == CONNECTION_BAD) m = ochre::message(Msg::PgConnectionLost, {m});
    fail(Msg::StateStep, {loc_.shown, what, m});
  }

  // Text SQL, without parameters (schema set-up), run now.
  void exec(const std::string& sql) {
    flush();
    PGresult* r = pq::PQexec(c_, sql.c_str());
    auto st = pq::PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die("query", r);
    pq::PQclear(r);
  }

  // Runs `sql` now (after anything queued) and returns its rows.
  Rows query(const char* sql, const Params& p = Params()) {
    flush();
    const std::string& name = prepare_now(sql);
    std::vector<const char*> v;
    std::vector<int> l, f;
    p.arrays(v, l, f);
    PGresult* r = pq::PQexecPrepared(c_, name.c_str(), p.size(), v.data(), l.data(), f.data(), 1);
    auto st = pq::PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) die("query", r);
    return Rows(r);
  }

  // Sends `sql` as part of the current pipeline; it commits at the next flush.
  void queue(const char* sql, const Params& p) {
    if (pq::PQpipelineStatus(c_) == PQ_PIPELINE_OFF && !pq::PQenterPipelineMode(c_)) die("pipeline");
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "o" + std::to_string(prepared_.size() + pending_prepares_.size() + 1);
      auto pit = pending_prepares_.find(sql);
      if (pit == pending_prepares_.end()) {
        if (!pq::PQsendPrepare(c_, name.c_str(), with_schema(sql, loc_.schema).c_str(), 0, nullptr))
          die("prepare");
        expected_.push_back(sql);
        pit = pending_prepares_.emplace(sql, name).first;
      }
      send(pit->second, p);
    } else {
      send(it->second, p);
    }
  }

  // Commits what was queued, in one round trip.
  void flush() {
    if (pq::PQpipelineStatus(c_) == PQ_PIPELINE_OFF) return;
    if (!pq::PQpipelineSync(c_)) die("commit");
    std::string error;
    bool lost = false;
    for (const char* prep : expected_) {
      PGresult* r = pq::PQgetResult(c_);
      if (!r) {
        lost = true;
        break;
      }
      auto st = pq::PQresultStatus(r);
      bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (!ok && error.empty() && st != PGRES_PIPELINE_ABORTED) {
        error = pq::PQresultErrorMessage(r);
      }
      if (prep) {
        auto it = pending_prepares_.find(prep);
        if (ok && it != pending_prepares_.end()) prepared_.emplace(prep, it->second);
      }
      pq::PQclear(r);
      while (PGresult* extra = pq::PQgetResult(c_)) pq::PQclear(extra);  // the end of this command
    }
    expected_.clear();
    pending_prepares_.clear();
    if (!lost) {
      PGresult* r = pq::PQgetResult(c_);  // the sync
      lost = !r || pq::PQresultStatus(r) != PGRES_PIPELINE_SYNC;
      if (r) pq::PQclear(r);
    }
    if (lost || !pq::PQexitPipelineMode(c_)) {
      if (error.empty()) error = message();
    }
    if (!error.empty()) {
      error = one_line(error);
      if (pq::PQstatus(c_) == CONNECTION_BAD) error = ochre::message(Msg::PgConnectionLost, {error});
      fail(Msg::PgCommitFailed, {loc_.shown, error});
    }
  }

  bool queued() const { return !expected_.empty(); }

 private:
  void send(const std::string& name, const Params& p) {
    std::vector<const char*> v;
    std::vector<int> l, f;
    p.arrays(v, l, f);
    if (!pq::PQsendQueryPrepared(c_, name.c_str(), p.size(), v.data(), l.data(), f.data(), 1))
      die("send");
    expected_.push_back(nullptr);
  }

  const std::string& prepare_now(const char* sql) {
    auto it = prepared_.find(sql);
    if (it != prepared_.end()) return it->second;
    std::string name = "o" + std::to_string(prepared_.size() + 1);
    PGresult* r = pq::PQprepare(c_, name.c_str(), with_schema(sql, loc_.schema).c_str(), 0, nullptr);
    if (pq::PQresultStatus(r) != PGRES_COMMAND_OK) die("prepare", r);
    pq::PQclear(r);
    return prepared_.emplace(sql, name).first->second;
  }

  PgLocation loc_;
  PGconn* c_ = nullptr;
  std::unordered_map<const char*, std::string> prepared_;
  std::unordered_map<const char*, std::string> pending_prepares_;
  // One entry per result the pipeline will give: the SQL of a prepare, or null.
  std::vector<const char*> expected_;
};

// Creates or migrates the schema; returns false when ReadOnly finds none. `read_version`
// is the schema's version as this connection reads it (ReadOnly leaves an older one).
bool ensure_schema(Connection& c, OpenMode mode, int* read_version = nullptr) {
  Rows found = c.query("SELECT count(*)::int8 FROM pg_namespace n JOIN pg_class t ON t.relnamespace = n.oid "
                       "WHERE n.nspname = $1::text AND t.relname = 'meta'",
                       Params().text(c.schema()));
  bool exists = found.int8(0, 0) > 0;
  int version = 0;
  if (exists) {
    Rows v = c.query("SELECT version::int4 FROM {S}.meta");
    version = v.size() ? v.int4(0, 0) : 0;
    if (version > schema_version)
      fail(Code::StateVersion, {c.shown(), std::to_string(version), std::to_string(schema_version)});
  }
  if (read_version) *read_version = mode == OpenMode::ReadOnly ? version : schema_version;
  if (mode == OpenMode::ReadOnly) return exists;
  if (version == schema_version) return true;
  // Two processes creating the schema at once: the second waits, then finds it made.
  c.exec("BEGIN");
  c.query("SELECT pg_advisory_xact_lock(hashtext($1::text))::text", Params().text("ochre schema " + c.schema()));
  c.exec(with_schema("CREATE SCHEMA IF NOT EXISTS {S}", c.schema()));
  c.exec(with_schema("CREATE TABLE IF NOT EXISTS {S}.meta(version int NOT NULL)", c.schema()));
  Rows v = c.query("SELECT version::int4 FROM {S}.meta");
  version = v.size() ? v.int4(0, 0) : 0;
  if (!v.size()) c.exec(with_schema("INSERT INTO {S}.meta VALUES (0)", c.schema()));
  for (int i = version; i < schema_version; ++i) c.exec(with_schema(migrations[i], c.schema()));
  c.exec(with_schema(("UPDATE {S}.meta SET version = " + std::to_string(schema_version)).c_str(), c.schema()));
  c.exec("COMMIT");
  return true;
}

// The workspace's id; ReadOnly gives 0 for one never used.
int workspace_id(Connection& c, const std::string& name, OpenMode mode) {
  Rows r = c.query("SELECT id::int4 FROM {S}.workspaces WHERE name = $1::text", Params().text(name));
  if (r.size()) return r.int4(0, 0);
  if (mode == OpenMode::ReadOnly) return 0;
  Rows made = c.query(
      "INSERT INTO {S}.workspaces(name) VALUES ($1::text) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name "
      "RETURNING id::int4",
      Params().text(name));
  return made.int4(0, 0);
}

class PgState final : public StateStore {
 public:
  PgState(const std::string& url, const std::string& workspace, OpenMode mode)
      : loc_(parse_location(url)), mode_(mode), workspace_(workspace) {
    conn_ = std::make_unique<Connection>(loc_);
    shown_ = loc_.shown + (workspace_ == default_workspace ? "" : " (workspace " + workspace_ + ")");
    if (!ensure_schema(*conn_, mode, &version_)) return;  // ReadOnly, nothing yet: an empty state
    ws_ = workspace_id(*conn_, workspace_, mode);
  }

  ~PgState() override {
    try {
      if (conn_) conn_->flush();
    } catch (const std::exception&) {
      // Already reported by the write that failed.
    }
  }

  const std::string& location() const override { return shown_; }

  // A batch inside a batch joins it: the outermost commit_batch sends the pipeline.
  void begin_batch() override {
    if (mode_ == OpenMode::ReadWrite) ++batch_depth_;
  }
  void commit_batch() override {
    if (batch_depth_ > 0) --batch_depth_;
    if (batch_depth_ == 0) conn_->flush();
  }

  std::vector<StoredInstance> load() override {
    std::vector<StoredInstance> out;
    if (!ws_) return out;
    Rows r = conn_->query(
        version_ >= 3 ? "SELECT key, type, identifier, uuid, hash, fields, outputs, deps, status, action, error, "
                        "run, breaks, sensitive, protect FROM {S}.instances WHERE ws = $1::int4 ORDER BY key"
                      : "SELECT key, type, identifier, uuid, hash, fields, outputs, deps, status, action, error, "
                        "run, breaks, sensitive, 0 FROM {S}.instances WHERE ws = $1::int4 ORDER BY key",
        Params().int4(ws_));
    out.reserve(r.size());
    for (int i = 0; i < r.size(); ++i) {
      StoredInstance s;
      s.key = r.text(i, 0);
      s.type = r.text(i, 1);
      s.identifier = r.text(i, 2);
      s.uuid = r.view(i, 3);
      s.hash = r.view(i, 4);
      RowText row{r.text(i, 5), r.text(i, 6), r.text(i, 7), r.text(i, 8), r.text(i, 9),
                  r.null(i, 12) ? std::string() : r.text(i, 12),
                  r.null(i, 13) ? std::string() : r.text(i, 13)};
      decode_instance_row(shown_, row, s);
      s.error = r.text(i, 10);
      s.run = r.int8(i, 11);
      s.protect = r.text(i, 14).find_first_not_of('\0') != std::string::npos;  // a binary int4
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<std::pair<std::string, std::vector<std::string>>> recorded_sensitive() override {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    if (!ws_) return out;
    Rows r = conn_->query("SELECT DISTINCT type, sensitive FROM {S}.instances WHERE ws = $1::int4 "
                          "AND length(sensitive) > 2",
                          Params().int4(ws_));
    try {
      for (int i = 0; i < r.size(); ++i) out.emplace_back(r.text(i, 0), decode_keys(r.text(i, 1)));
    } catch (const Error&) {
      return StateStore::recorded_sensitive();  // the damaged row, named as load() names it
    }
    return out;
  }

  std::vector<std::pair<std::string, std::string>> roots() override {
    std::vector<std::pair<std::string, std::string>> out;
    if (!ws_) return out;
    Rows r = conn_->query("SELECT source, key FROM {S}.roots WHERE ws = $1::int4 ORDER BY source, key",
                          Params().int4(ws_));
    for (int i = 0; i < r.size(); ++i) out.emplace_back(r.text(i, 0), r.text(i, 1));
    return out;
  }

  long long begin_run(const RunInfo& info) override {
    writable();
    Rows r = conn_->query(
        "INSERT INTO {S}.runs(ws, command, source, started, outcome, summary, pid, host, \"user\") "
        "VALUES ($1::int4, $2::text, $3::bytea, $4::text, 'running', ''::bytea, $5::int8, $6::bytea, $7::bytea) "
        "RETURNING id::int8",
        Params().int4(ws_).text(info.command).text(info.source).text(state_now()).int8(getpid())
            .text(host_name()).text(user_name()));
    return r.int8(0, 0);
  }

  void end_run(long long run, const std::string& outcome, const std::string& summary) override {
    writable();
    conn_->queue("UPDATE {S}.runs SET ended = $1::text, outcome = $2::text, summary = $3::bytea WHERE id = $4::int8",
                 Params().text(state_now()).text(outcome).text(summary).int8(run));
    done();
  }

  void set_roots(const std::string& source, const std::vector<std::string>& keys) override {
    writable();
    conn_->queue("DELETE FROM {S}.roots WHERE ws = $1::int4 AND source = $2::bytea",
                 Params().int4(ws_).text(source));
    for (const auto& k : keys)
      conn_->queue("INSERT INTO {S}.roots(ws, source, key) VALUES ($1::int4, $2::bytea, $3::bytea) "
                   "ON CONFLICT DO NOTHING",
                   Params().int4(ws_).text(source).text(k));
    done();
  }

  long long job_started(long long run, int seq, Action action, const StoredInstance& target) override {
    writable();
    long long job = next_job_id();
    runs_of_jobs_[job] = run;
    conn_->queue(
        "INSERT INTO {S}.jobs(id, ws, run, seq, key, uuid, action, started, outcome, error, output) "
        "VALUES ($1::int8, $2::int4, $3::int8, $4::int4, $5::bytea, $6::text, $7::text, $8::text, 'running', "
        "''::bytea, ''::bytea)",
        Params().int8(job).int4(ws_).int8(run).int4(seq).text(target.key).text(target.uuid)
            .text(action_name(action)).text(state_now()));
    if (action == Action::Create) {
      // Recorded with the attempted fields, so an interrupted create can still be deleted.
      StoredInstance s = target;
      s.status = Status::Running;
      s.action = action;
      s.run = run;
      upsert(s);
    } else {
      conn_->queue("UPDATE {S}.instances SET status = 'running', action = $1::text, run = $2::int8, "
                   "updated = $3::text WHERE ws = $4::int4 AND key = $5::bytea",
                   Params().text(action_name(action)).int8(run).text(state_now()).int4(ws_).text(target.key));
    }
    done();
    return job;
  }

  void job_finished(long long job, Action action, const StoredInstance& target,
                    const JobOutcome& outcome) override {
    writable();
    std::string now = state_now();
    conn_->queue("UPDATE {S}.jobs SET ended = $1::text, outcome = $2::text, error = $3::bytea, "
                 "output = $4::bytea WHERE id = $5::int8",
                 Params().text(now).text(outcome_name(outcome.kind)).text(outcome.error)
                     .text(outcome.output).int8(job));
    long long run = run_of_job(job);
    if (outcome.applied()) {
      if (action == Action::Delete) {
        conn_->queue("DELETE FROM {S}.instances WHERE ws = $1::int4 AND key = $2::bytea",
                     Params().int4(ws_).text(target.key));
      } else {
        StoredInstance s = target;
        s.status = Status::Ok;
        s.action = action;
        s.error.clear();
        s.run = run;
        s.outputs = outcome.outputs;
        upsert(s);
      }
      add_version(target.key, target.uuid, target.hash, fields_blob(target.fields),
                  encode(action == Action::Delete ? target.outputs : outcome.outputs),
                  version_action(action, outcome), run, job, now);
    } else {
      Status st = outcome.kind == JobOutcome::Pending ? Status::Pending : Status::Failed;
      std::string error = outcome.kind == JobOutcome::Interrupted ? "interrupted" : outcome.error;
      conn_->queue("UPDATE {S}.instances SET status = $1::text, action = $2::text, error = $3::bytea, "
                   "updated = $4::text WHERE ws = $5::int4 AND key = $6::bytea",
                   Params().text(status_name(st)).text(action_name(action)).text(error).text(now)
                       .int4(ws_).text(target.key));
    }
    runs_of_jobs_.erase(job);
    done();
  }

  void job_skipped(long long run, int seq, Action action, const std::string& key,
                   const std::string& uuid, const std::string& why) override {
    writable();
    conn_->queue("INSERT INTO {S}.jobs(id, ws, run, seq, key, uuid, action, outcome, error, output) "
                 "VALUES ($1::int8, $2::int4, $3::int8, $4::int4, $5::bytea, $6::text, $7::text, "
                 "'skipped', $8::bytea, ''::bytea)",
                 Params().int8(next_job_id()).int4(ws_).int8(run).int4(seq).text(key).text(uuid)
                     .text(action_name(action)).text(why));
    done();
  }

  std::vector<std::string> recover_interrupted() override {
    writable();
    std::vector<std::string> keys;
    // Under the lock, whatever says running was left by an ochre that died: a job, an
    // instance, or a run that died before its first job.
    Rows left = conn_->query(
        "SELECT ((SELECT count(*) FROM {S}.instances WHERE ws = $1::int4 AND status = 'running') + "
        "(SELECT count(*) FROM {S}.runs WHERE ws = $1::int4 AND outcome = 'running'))::int8",
        Params().int4(ws_));
    Rows r = conn_->query("SELECT key FROM {S}.jobs WHERE ws = $1::int4 AND outcome = 'running' ORDER BY id",
                          Params().int4(ws_));
    if (!r.size() && left.int8(0, 0) == 0) return keys;  // the usual case
    for (int i = 0; i < r.size(); ++i) keys.push_back(r.text(i, 0));
    std::string now = state_now();
    conn_->queue("UPDATE {S}.jobs SET outcome = 'interrupted', ended = $1::text "
                 "WHERE ws = $2::int4 AND outcome = 'running'",
                 Params().text(now).int4(ws_));
    conn_->queue("UPDATE {S}.instances SET status = 'failed', error = 'interrupted'::bytea "
                 "WHERE ws = $1::int4 AND status = 'running'",
                 Params().int4(ws_));
    conn_->queue("UPDATE {S}.runs SET outcome = 'interrupted' WHERE ws = $1::int4 AND outcome = 'running'",
                 Params().int4(ws_));
    done();  // with the batch of a caller that adds what it reports
    return keys;
  }

  std::vector<RunRecord> runs(int limit) override {
    std::vector<RunRecord> out;
    if (!ws_) return out;
    Rows r = conn_->query(
        "SELECT id, command, source, started, coalesce(ended, ''), outcome, summary, pid, host, \"user\" "
        "FROM {S}.runs WHERE ws = $1::int4 ORDER BY id DESC LIMIT $2::int8",
        Params().int4(ws_).int8(limit > 0 ? limit : (1LL << 62)));
    for (int i = 0; i < r.size(); ++i) out.push_back(run_row(r, i));
    return out;
  }

  std::vector<JobRecord> jobs_of_run(long long run) override {
    std::vector<JobRecord> out;
    if (!ws_) return out;
    Rows r = conn_->query(
        "SELECT id, run, seq, key, uuid, action, coalesce(started, ''), coalesce(ended, ''), outcome, "
        "error, output FROM {S}.jobs WHERE run = $1::int8 AND ws = $2::int4 ORDER BY seq, id",
        Params().int8(run).int4(ws_));
    for (int i = 0; i < r.size(); ++i) out.push_back(job_row(r, i));
    return out;
  }

  std::vector<VersionRecord> versions(const std::string& key) override {
    std::vector<VersionRecord> out;
    if (!ws_) return out;
    Rows r = conn_->query(
        "SELECT run, job, key, uuid, hash, action, at, fields, outputs FROM {S}.versions "
        "WHERE ws = $1::int4 AND key = $2::bytea ORDER BY id DESC",
        Params().int4(ws_).text(key));
    for (int i = 0; i < r.size(); ++i) out.push_back(version_row(r, i));
    return out;
  }

  std::vector<Submission> submissions(const std::string& key) override {
    std::vector<Submission> out;
    if (!ws_ || !submissions_table(false)) return out;
    Rows r = conn_->query("SELECT slot::int4, token, job_id, dir, digest FROM {S}.cluster_jobs "
                          "WHERE ws = $1::int4 AND key = $2::bytea ORDER BY slot", Params().int4(ws_).text(key));
    for (int i = 0; i < r.size(); ++i) out.push_back({key, r.int4(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4)});
    return out;
  }

  void put_submission(const Submission& s) override {
    writable();
    submissions_table(true);
    conn_->queue("INSERT INTO {S}.cluster_jobs(ws, key, slot, token, job_id, dir, digest) VALUES ($1::int4, "
                 "$2::bytea, $3::int4, $4::text, $5::text, $6::bytea, $7::text) ON CONFLICT (ws, key, slot) DO UPDATE "
                 "SET token = EXCLUDED.token, job_id = EXCLUDED.job_id, dir = EXCLUDED.dir, digest = EXCLUDED.digest",
                 Params().int4(ws_).text(s.key).int4(s.slot).text(s.token).text(s.job_id).text(s.dir).text(s.digest));
    done();
  }

  void drop_submissions(const std::string& key) override {
    writable();
    if (!submissions_table(false)) return;
    conn_->queue("DELETE FROM {S}.cluster_jobs WHERE ws = $1::int4 AND key = $2::bytea", Params().int4(ws_).text(key));
    done();
  }

  void forget(const std::string& key) override {
    writable();
    conn_->queue("DELETE FROM {S}.instances WHERE ws = $1::int4 AND key = $2::bytea", Params().int4(ws_).text(key));
    conn_->queue("DELETE FROM {S}.roots WHERE ws = $1::int4 AND key = $2::bytea", Params().int4(ws_).text(key));
    done();  // with the batch, if one is open (ochre.removed with the moves of a run)
  }

  void set_breaks(const std::string& key, const std::vector<std::string>& breaks) override {
    writable();
    conn_->queue("UPDATE {S}.instances SET breaks = $1::bytea WHERE ws = $2::int4 AND key = $3::bytea",
                 Params().text(encode_keys(breaks)).int4(ws_).text(key));
    conn_->flush();
  }

  void set_protect(const std::string& key, bool protect) override {
    writable();
    conn_->queue("UPDATE {S}.instances SET protect = $1::int4 WHERE ws = $2::int4 AND key = $3::bytea",
                 Params().int4(protect ? 1 : 0).int4(ws_).text(key));
    conn_->flush();
  }

  void move(const std::string& from, const std::string& to, const std::vector<StoredInstance>& rows) override {
    writable();
    conn_->queue("DELETE FROM {S}.instances WHERE ws = $1::int4 AND key = $2::bytea", Params().int4(ws_).text(from));
    for (const auto& r : rows) upsert(r);
    // A root under both names keeps one row.
    conn_->queue("DELETE FROM {S}.roots o WHERE ws = $1::int4 AND key = $2::bytea AND EXISTS "
                 "(SELECT 1 FROM {S}.roots n WHERE n.ws = o.ws AND n.source = o.source AND n.key = $3::bytea)",
                 Params().int4(ws_).text(from).text(to));
    conn_->queue("UPDATE {S}.roots SET key = $1::bytea WHERE ws = $2::int4 AND key = $3::bytea",
                 Params().text(to).int4(ws_).text(from));
    conn_->queue("UPDATE {S}.versions SET key = $1::bytea WHERE ws = $2::int4 AND key = $3::bytea",
                 Params().text(to).int4(ws_).text(from));
    done();  // with the batch, if one is open (the ochre.moved of a run)
  }

  void outbox_add(const std::vector<OutboxEvent>& events) override {
    if (events.empty()) return;
    writable();
    std::string now = state_now();
    for (const OutboxEvent& e : events)
      conn_->queue("INSERT INTO {S}.outbox(ws, id, event, url, body, signature, run, created, attempts, next_at) "
                   "VALUES ($1::int4, $2::text, $3::text, $4::bytea, $5::bytea, $6::text, $7::int8, $8::text, 0, "
                   "$9::int8)",
                   Params().int4(ws_).text(e.id).text(e.event).text(e.url).text(e.body).text(e.signature)
                       .int8(e.run).text(now).int8(e.next_at));
    done();
  }

  std::vector<OutboxEvent> outbox_due(long long now_ms, int limit) override {
    std::vector<OutboxEvent> out;
    if (!ws_ || version_ < 2) return out;
    Rows r = conn_->query(
        "SELECT id, event, url, body, signature, run, attempts, next_at, error FROM {S}.outbox "
        "WHERE ws = $1::int4 AND delivered IS NULL AND next_at <= $2::int8 ORDER BY seq LIMIT $3::int8",
        Params().int4(ws_).int8(now_ms).int8(limit));
    for (int i = 0; i < r.size(); ++i) {
      OutboxEvent e;
      e.id = r.text(i, 0);
      e.event = r.text(i, 1);
      e.url = r.text(i, 2);
      e.body = r.text(i, 3);
      e.signature = r.text(i, 4);
      e.run = r.int8(i, 5);
      e.attempts = r.int4(i, 6);
      e.next_at = r.int8(i, 7);
      e.error = r.text(i, 8);
      out.push_back(std::move(e));
    }
    return out;
  }

  void outbox_delivered(const std::string& id) override {
    writable();
    conn_->queue("UPDATE {S}.outbox SET delivered = $1::text, attempts = attempts + 1, error = ''::bytea "
                 "WHERE ws = $2::int4 AND id = $3::text AND delivered IS NULL",
                 Params().text(state_now()).int4(ws_).text(id));
    done();
  }

  void outbox_retry(const std::string& id, int attempts, long long next_at, const std::string& error) override {
    writable();
    conn_->queue("UPDATE {S}.outbox SET attempts = $1::int4, next_at = $2::int8, error = $3::bytea "
                 "WHERE ws = $4::int4 AND id = $5::text AND delivered IS NULL",
                 Params().int4(attempts).int8(next_at).text(error).int4(ws_).text(id));
    done();
  }

  std::string hash_key() override {
    if (!ws_ || version_ < 4) return {};
    Rows r = conn_->query("SELECT coalesce(hash_key, '') FROM {S}.workspaces WHERE id = $1::int4", Params().int4(ws_));
    return r.size() ? r.text(0, 0) : std::string();
  }

  void adopt_hash_key(const std::string& key) override {
    writable();
    conn_->query("UPDATE {S}.workspaces SET hash_key = $2::text WHERE id = $1::int4 AND hash_key IS NULL",
                 Params().int4(ws_).text(key));
  }

  Snapshot snapshot() override {
    Snapshot s;
    if (!ws_) return s;
    s.hash_key = hash_key();
    s.instances = load();
    s.roots = roots();
    s.runs = runs(0);
    std::reverse(s.runs.begin(), s.runs.end());
    Rows j = conn_->query(
        "SELECT id, run, seq, key, uuid, action, coalesce(started, ''), coalesce(ended, ''), outcome, "
        "error, output FROM {S}.jobs WHERE ws = $1::int4 ORDER BY id",
        Params().int4(ws_));
    for (int i = 0; i < j.size(); ++i) s.jobs.push_back(job_row(j, i));
    Rows v = conn_->query(
        "SELECT run, job, key, uuid, hash, action, at, fields, outputs FROM {S}.versions "
        "WHERE ws = $1::int4 ORDER BY id",
        Params().int4(ws_));
    for (int i = 0; i < v.size(); ++i) s.versions.push_back(version_row(v, i));
    return s;
  }

  void restore(const Snapshot& s) override {
    writable();
    Rows used = conn_->query("SELECT ((SELECT count(*) FROM {S}.instances WHERE ws = $1::int4) + "
                             "(SELECT count(*) FROM {S}.runs WHERE ws = $1::int4))::int8",
                             Params().int4(ws_));
    if (used.int8(0, 0) != 0)
      fail(Msg::StateNotEmptyWorkspace, {shown_});
    if (!s.hash_key.empty())
      conn_->query("UPDATE {S}.workspaces SET hash_key = $2::text WHERE id = $1::int4",
                   Params().int4(ws_).text(s.hash_key));
    // New ids, in the same order, from the sequences.
    std::unordered_map<long long, long long> run_ids, job_ids;
    for (const RunRecord& r : s.runs) {
      Rows id = conn_->query(
          "INSERT INTO {S}.runs(ws, command, source, started, ended, outcome, summary, pid, host, \"user\") "
          "VALUES ($1::int4, $2::text, $3::bytea, $4::text, nullif($5::text, ''), $6::text, $7::bytea, $8::int8, "
          "$9::bytea, $10::bytea) RETURNING id::int8",
          Params().int4(ws_).text(r.command).text(r.source).text(r.started).text(r.ended).text(r.outcome)
              .text(r.summary).int8(r.pid).text(r.host).text(r.user));
      run_ids[r.id] = id.int8(0, 0);
    }
    for (const JobRecord& j : s.jobs) {
      long long id = next_job_id();
      job_ids[j.id] = id;
      conn_->queue(
          "INSERT INTO {S}.jobs(id, ws, run, seq, key, uuid, action, started, ended, outcome, error, output) "
          "VALUES ($1::int8, $2::int4, $3::int8, $4::int4, $5::bytea, $6::text, $7::text, nullif($8::text, ''), "
          "nullif($9::text, ''), $10::text, $11::bytea, $12::bytea)",
          Params().int8(id).int4(ws_).int8(run_ids[j.run]).int4(j.seq).text(j.key).text(j.uuid).text(j.action)
              .text(j.started).text(j.ended).text(j.outcome).text(j.error).text(j.output));
    }
    for (const VersionRecord& v : s.versions)
      add_version(v.key, v.uuid, v.hash, fields_blob(v.fields), encode(v.outputs), v.action,
                  run_ids[v.run], job_ids[v.job], v.at);
    for (StoredInstance i : s.instances) {
      i.run = run_ids[i.run];
      upsert(i);
    }
    for (const auto& [source, key] : s.roots)
      conn_->queue("INSERT INTO {S}.roots(ws, source, key) VALUES ($1::int4, $2::bytea, $3::bytea) "
                   "ON CONFLICT DO NOTHING",
                   Params().int4(ws_).text(source).text(key));
    conn_->flush();
  }

 private:
  void writable() {
    if (mode_ == OpenMode::ReadOnly || !ws_) fail(Msg::ReadOnlyWrite);
  }

  // Whether the table of cluster submissions exists; made when `create`, under the
  // schema's advisory lock (two processes may make it at once). Not part of the
  // versioned schema: a state that never ran a cluster job has none.
  bool submissions_table(bool create) {
    if (has_submissions_) return true;
    Rows r = conn_->query("SELECT count(*)::int4 FROM information_schema.tables WHERE table_schema = $1::text "
                          "AND table_name = 'cluster_jobs'", Params().text(loc_.schema));
    has_submissions_ = r.size() && r.int4(0, 0) > 0;
    if (has_submissions_ || !create) return has_submissions_;
    conn_->exec("BEGIN");
    conn_->query("SELECT pg_advisory_xact_lock(hashtext($1::text))::text", Params().text("ochre schema " + loc_.schema));
    conn_->exec(with_schema("CREATE TABLE IF NOT EXISTS {S}.cluster_jobs(ws int NOT NULL, key bytea NOT NULL, "
                            "slot int NOT NULL, token text NOT NULL, job_id text NOT NULL, dir bytea NOT NULL, "
                            "digest text NOT NULL, PRIMARY KEY(ws, key, slot))", loc_.schema));
    conn_->exec("COMMIT");
    has_submissions_ = true;
    return true;
  }

  // The end of one transaction's writes: committed now, or with the batch.
  void done() {
    if (batch_depth_ == 0) conn_->flush();
  }

  // Job ids come from the sequence in blocks, so a job's start needs no round trip.
  long long next_job_id() {
    if (free_job_ids_.empty()) {
      int n = job_block_;
      job_block_ = std::min(job_block_ * 4, 4096);
      Rows r = conn_->query("SELECT nextval(pg_get_serial_sequence('{S}.jobs', 'id'))::int8 "
                            "FROM generate_series(1, $1::int4)",
                            Params().int4(n));
      for (int i = 0; i < r.size(); ++i) free_job_ids_.push_back(r.int8(i, 0));
      std::sort(free_job_ids_.begin(), free_job_ids_.end());
    }
    long long id = free_job_ids_.front();
    free_job_ids_.pop_front();
    return id;
  }

  long long run_of_job(long long job) {
    auto it = runs_of_jobs_.find(job);
    if (it != runs_of_jobs_.end()) return it->second;
    Rows r = conn_->query("SELECT run FROM {S}.jobs WHERE id = $1::int8", Params().int8(job));
    return r.size() ? r.int8(0, 0) : 0;
  }

  void upsert(const StoredInstance& s) {
    Params p;
    p.int4(ws_).text(s.key).text(s.type).text(s.identifier).text(s.uuid).text(s.hash)
        .text(fields_blob(s.fields)).text(encode(s.outputs)).text(encode_keys(s.deps))
        .text(status_name(s.status)).text(action_name(s.action)).text(s.error).int8(s.run).text(state_now());
    if (s.breaks_known) p.text(encode_keys(s.breaks));
    else p.null();
    p.text(encode_keys(s.sensitive)).int4(s.protect ? 1 : 0);
    conn_->queue(
        "INSERT INTO {S}.instances(ws, key, type, identifier, uuid, hash, fields, outputs, deps, status, "
        "action, error, run, updated, breaks, sensitive, protect) VALUES ($1::int4, $2::bytea, $3::bytea, $4::bytea, "
        "$5::text, $6::text, $7::bytea, $8::bytea, $9::bytea, $10::text, $11::text, $12::bytea, $13::int8, "
        "$14::text, $15::bytea, $16::bytea, $17::int4) ON CONFLICT (ws, key) DO UPDATE SET type = EXCLUDED.type, "
        "identifier = EXCLUDED.identifier, uuid = EXCLUDED.uuid, hash = EXCLUDED.hash, fields = EXCLUDED.fields, "
        "outputs = EXCLUDED.outputs, deps = EXCLUDED.deps, status = EXCLUDED.status, action = EXCLUDED.action, "
        "error = EXCLUDED.error, run = EXCLUDED.run, updated = EXCLUDED.updated, breaks = EXCLUDED.breaks, "
        "sensitive = EXCLUDED.sensitive, protect = EXCLUDED.protect",
        p);
  }

  void add_version(const std::string& key, std::string_view uuid, std::string_view hash,
                   const std::string& fields, const std::string& outputs, const std::string& action,
                   long long run, long long job, const std::string& at) {
    conn_->queue(
        "INSERT INTO {S}.versions(ws, key, uuid, hash, fields, outputs, action, run, job, at) "
        "VALUES ($1::int4, $2::bytea, $3::text, $4::text, $5::bytea, $6::bytea, $7::text, $8::int8, $9::int8, "
        "$10::text)",
        Params().int4(ws_).text(key).text(uuid).text(hash).text(fields).text(outputs).text(action).int8(run)
            .int8(job).text(at));
  }

  static RunRecord run_row(const Rows& r, int i) {
    RunRecord x;
    x.id = r.int8(i, 0);
    x.command = r.text(i, 1);
    x.source = r.text(i, 2);
    x.started = r.text(i, 3);
    x.ended = r.text(i, 4);
    x.outcome = r.text(i, 5);
    x.summary = r.text(i, 6);
    x.pid = r.int8(i, 7);
    x.host = r.text(i, 8);
    x.user = r.text(i, 9);
    return x;
  }

  static JobRecord job_row(const Rows& r, int i) {
    JobRecord j;
    j.id = r.int8(i, 0);
    j.run = r.int8(i, 1);
    j.seq = r.int4(i, 2);
    j.key = r.text(i, 3);
    j.uuid = r.text(i, 4);
    j.action = r.text(i, 5);
    j.started = r.text(i, 6);
    j.ended = r.text(i, 7);
    j.outcome = r.text(i, 8);
    j.error = r.text(i, 9);
    j.output = r.text(i, 10);
    return j;
  }

  VersionRecord version_row(const Rows& r, int i) {
    VersionRecord v;
    v.run = r.int8(i, 0);
    v.job = r.int8(i, 1);
    v.key = r.text(i, 2);
    v.uuid = r.text(i, 3);
    v.hash = r.text(i, 4);
    v.action = r.text(i, 5);
    v.at = r.text(i, 6);
    decode_version(shown_, r.text(i, 7), r.text(i, 8), v);
    return v;
  }

  PgLocation loc_;
  OpenMode mode_;
  std::string workspace_, shown_;
  std::unique_ptr<Connection> conn_;
  int ws_ = 0;  // 0: no such workspace yet (read-only)
  bool has_submissions_ = false;  // the cluster_jobs table is known to exist
  int batch_depth_ = 0;  // begin_batch calls not committed yet
  int version_ = schema_version;  // of the schema as this connection reads it
  std::deque<long long> free_job_ids_;
  int job_block_ = 16;
  std::unordered_map<long long, long long> runs_of_jobs_;
};

// The advisory lock of one workspace, on a connection of its own: the server releases it
// when that connection ends, so a holder that dies frees it.
class PgLock final : public StateLock {
 public:
  PgLock(const std::string& url, const std::string& workspace, double timeout) : loc_(parse_location(url)) {
    conn_ = std::make_unique<Connection>(loc_);
    ensure_schema(*conn_, OpenMode::ReadWrite);
    ws_ = workspace_id(*conn_, workspace, OpenMode::ReadWrite);
    // The schema's oid is unique in the database and the workspace's id in the schema.
    Rows key = conn_->query("SELECT ((oid::int8 << 32) | $2::int8)::int8 FROM pg_namespace WHERE nspname = $1::text",
                            Params().text(loc_.schema).int8(ws_));
    key_ = key.int8(0, 0);
    std::string shown = loc_.shown + (workspace == default_workspace ? "" : " (workspace " + workspace + ")");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    bool grace_used = false;
    for (;;) {
      Rows got = conn_->query("SELECT pg_try_advisory_lock($1::int8)", Params().int8(key_));
      if (got.boolean(0, 0)) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        std::string who = holder();
        // A holder on this machine that has died: the server frees its lock as soon as
        // it sees the connection gone, a moment later. Wait for that, not for the user.
        if (!grace_used && holder_is_dead_here(who)) {
          grace_used = true;
          deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          continue;
        }
        if (timeout > 0) fail(Code::Locked, {shown, who});
        fail(Msg::LockedNoTimeout, {shown, who});
      }
      // Waiting for another process: a short pause between attempts costs no CPU.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    conn_->query("INSERT INTO {S}.lock_holders(ws, holder) VALUES ($1::int4, $2::text) "
                 "ON CONFLICT (ws) DO UPDATE SET holder = EXCLUDED.holder",
                 Params().int4(ws_).text(lock_holder_note()));
  }

  // Who holds the lock: the note the holder wrote ("pid N on HOST since T"). The holder's
  // session says its pid (application_name "ochre pid N"), so a note left by an earlier
  // holder is never taken for the current one's; a holder that has just taken the lock
  // gets a moment to write its note.
  std::string holder() {
    std::string pid;
    Rows who = conn_->query(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.classid = ($1::int8 >> 32)::oid AND l.objid = ($1::int8 & 4294967295)::oid",
        Params().int8(key_));
    if (who.size() && who.text(0, 0).rfind("ochre pid ", 0) == 0) pid = who.text(0, 0).substr(10);
    std::string note;
    for (int attempt = 0; attempt < 40; ++attempt) {
      Rows r = conn_->query("SELECT holder FROM {S}.lock_holders WHERE ws = $1::int4", Params().int4(ws_));
      note = r.size() ? r.text(0, 0) : "";
      if (pid.empty() || note.rfind("pid " + pid + " ", 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!pid.empty() && note.rfind("pid " + pid + " ", 0) != 0) return "pid " + pid;
    return note.empty() ? "another ochre" : note;
  }

  // Whether the note "pid N on HOST since T" names a process of this machine that is gone.
  static bool holder_is_dead_here(const std::string& note) {
    if (note.rfind("pid ", 0) != 0) return false;
    size_t on = note.find(" on ");
    if (on == std::string::npos) return false;
    size_t since = note.find(" since ", on);
    std::string host = note.substr(on + 4, since == std::string::npos ? std::string::npos : since - on - 4);
    long pid = std::strtol(note.c_str() + 4, nullptr, 10);
    return pid > 0 && host == host_name() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
  }

  ~PgLock() override {
    try {
      conn_->query("SELECT pg_advisory_unlock($1::int8)", Params().int8(key_));
    } catch (const std::exception&) {
      // The connection is gone, and the lock with it.
    }
  }

 private:
  PgLocation loc_;
  std::unique_ptr<Connection> conn_;
  int ws_ = 0;
  long long key_ = 0;
};

}  // namespace

std::unique_ptr<StateStore> open_postgres_state(const std::string& url, const std::string& workspace,
                                                OpenMode mode) {
  return std::make_unique<PgState>(url, workspace, mode);
}

std::unique_ptr<StateLock> lock_postgres_state(const std::string& url, const std::string& workspace,
                                               double timeout) {
  return std::make_unique<PgLock>(url, workspace, timeout);
}

}  // namespace ochre
