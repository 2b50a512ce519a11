// The SQLite state store: outcomes committed per job, schema versions, foreign files.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/state.hpp"
#include "ochre/errors.hpp"
#include "unit/temp_state.hpp"

using namespace ochre;
namespace fs = std::filesystem;

namespace {

// The state file sits in a directory the store creates.
struct SubState : TempState {
  SubState() : TempState("sub/state.db") {}
};

StoredInstance instance(const std::string& key) {
  StoredInstance s;
  s.key = key;
  s.type = "T";
  s.identifier = key.substr(2);
  s.uuid = "0123456789abcdef";
  s.hash = std::string(64, 'a');
  s.fields = {{"identifier", Value::of_string(s.identifier)}, {"n", Value::of_number(1.5)}};
  s.deps = {"T/child"};
  return s;
}

void exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("read-only open of a missing state writes nothing", "[state]") {
  SubState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadOnly);
  CHECK(st->load().empty());
  CHECK(st->roots().empty());
  CHECK_FALSE(fs::exists(t.path()));
}

TEST_CASE("a new state file appears whole, in WAL mode, with nothing left beside it", "[state]") {
  SubState t;
  open_sqlite_state(t.path(), OpenMode::ReadWrite)->load();
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(t.path()).parent_path())) names.push_back(e.path().filename());
  CHECK(names == std::vector<std::string>{"state.db"});
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(t.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) == "wal");
  sqlite3_finalize(q);
  sqlite3_close(db);
  CHECK((fs::status(t.path()).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("regression: a state file a killed ochre left without its schema reads as empty, then is created",
          "[state]") {
  SubState t;
  fs::create_directories(fs::path(t.path()).parent_path());
  std::ofstream(t.path()).close();  // what create_file leaves before the schema commits
  auto ro = open_sqlite_state(t.path(), OpenMode::ReadOnly);
  CHECK(ro->load().empty());
  CHECK(ro->roots().empty());
  CHECK(ro->runs(10).empty());
  CHECK(fs::file_size(t.path()) == 0);  // the read wrote nothing
  auto rw = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK(rw->load().empty());
  CHECK(open_sqlite_state(t.path(), OpenMode::ReadOnly)->load().empty());
}

TEST_CASE("the change token moves with every commit of another connection", "[state]") {
  SubState t;
  CHECK_FALSE(open_sqlite_state(t.path(), OpenMode::ReadOnly)->change_token());  // no state yet
  auto writer = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  auto reader = open_sqlite_state(t.path(), OpenMode::ReadOnly);
  auto before = reader->change_token();
  REQUIRE(before);
  CHECK(reader->change_token() == before);  // reading changes nothing
  reader->load();
  CHECK(reader->change_token() == before);

  long long run = writer->begin_run({"apply", "/p.lua"});
  auto after_commit = reader->change_token();
  CHECK(after_commit != before);
  writer->end_run(run, "done", "");
  CHECK(reader->change_token() != after_commit);

  // Another file in its place (a state removed and made again) is another state.
  auto settled = reader->change_token();
  writer.reset();
  fs::rename(t.path(), t.path() + ".old");
  open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK(reader->change_token() != settled);
}

TEST_CASE("a batch takes SQLite's write lock at its first write, not before", "[state]") {
  SubState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  long long run = st->begin_run({"apply", "/p.lua"});
  // Another connection that would wait for no one: it writes only if nobody holds the lock.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(t.path().c_str(), &other) == SQLITE_OK);
  sqlite3_busy_timeout(other, 0);
  auto other_can_write = [&] {
    bool ok = sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (ok) sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    return ok;
  };
  st->begin_batch();
  CHECK(other_can_write());  // an open batch with nothing written holds nothing
  st->commit_batch();
  st->begin_batch();
  st->job_started(run, 0, Action::Create, instance("T/a"));
  CHECK_FALSE(other_can_write());  // a written one holds the lock until it commits
  st->commit_batch();
  CHECK(other_can_write());
  CHECK(open_sqlite_state(t.path(), OpenMode::ReadOnly)->load().size() == 1);
  sqlite3_close(other);
}

TEST_CASE("a job's outcome is stored when it ends", "[state]") {
  SubState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK((fs::status(t.path()).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  long long run = st->begin_run({"apply", "/p.lua"});
  st->set_roots("/p.lua", {"T/a"});
  StoredInstance a = instance("T/a");
  long long job = st->job_started(run, 0, Action::Create, a);

  // Started but not finished: recorded as running with the attempted fields.
  auto mid = open_sqlite_state(t.path(), OpenMode::ReadOnly)->load();
  REQUIRE(mid.size() == 1);
  CHECK(mid[0].status == Status::Running);

  JobOutcome done;
  done.outputs = Value::map();
  done.outputs.entries.emplace_back(Value::of_string("rows"), Value::of_number(42));
  done.output = "hello\n";
  st->job_finished(job, Action::Create, a, done);
  st->end_run(run, "done", "1 done");

  auto back = open_sqlite_state(t.path(), OpenMode::ReadOnly);
  auto all = back->load();
  REQUIRE(all.size() == 1);
  CHECK(all[0].status == Status::Ok);
  CHECK(all[0].fields == a.fields);
  CHECK(all[0].deps == a.deps);
  CHECK(all[0].outputs == done.outputs);
  CHECK(all[0].run == run);
  CHECK(back->roots() == std::vector<std::pair<std::string, std::string>>{{"/p.lua", "T/a"}});
}

TEST_CASE("failed and interrupted jobs keep the last applied version", "[state]") {
  SubState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  long long run = st->begin_run({"apply", "x"});
  StoredInstance a = instance("T/a");
  st->job_finished(st->job_started(run, 0, Action::Create, a), Action::Create, a, JobOutcome{});

  StoredInstance changed = a;
  changed.fields.edit()[1].second = Value::of_number(2);
  JobOutcome failed;
  failed.kind = JobOutcome::Failed;
  failed.error = "boom";
  st->job_finished(st->job_started(run, 1, Action::Update, changed), Action::Update, changed, failed);
  auto all = st->load();
  REQUIRE(all.size() == 1);
  CHECK(all[0].status == Status::Failed);
  CHECK(all[0].action == Action::Update);
  CHECK(all[0].error == "boom");
  CHECK(all[0].fields == a.fields);

  st->job_started(run, 2, Action::Update, changed);  // and then the process dies
  auto again = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK(again->recover_interrupted() == std::vector<std::string>{"T/a"});
  CHECK(again->load()[0].status == Status::Failed);
  CHECK(again->load()[0].error == "interrupted");
}

TEST_CASE("foreign and newer files are refused without being touched", "[state]") {
  SubState t;
  fs::create_directories(fs::path(t.path()).parent_path());
  SECTION("not SQLite") {
    std::ofstream(t.path()) << "hello, this is not a database at all, but it is long enough to look like one";
    auto before = fs::file_size(t.path());
    try {
      open_sqlite_state(t.path(), OpenMode::ReadWrite)->load();
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == Code::State);
      CHECK(std::string(e.what()).find("not an ochre state") != std::string::npos);
    }
    CHECK(fs::file_size(t.path()) == before);
  }
  SECTION("another application's database") {
    exec(t.path(), "CREATE TABLE other(x)");
    CHECK_THROWS_AS(open_sqlite_state(t.path(), OpenMode::ReadWrite), Error);
  }
  SECTION("a newer schema") {
    { open_sqlite_state(t.path(), OpenMode::ReadWrite); }
    exec(t.path(), "PRAGMA user_version = 99");
    try {
      open_sqlite_state(t.path(), OpenMode::ReadWrite);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == Code::StateVersion);
      CHECK(std::string(e.what()).find("upgrade ochre") != std::string::npos);
    }
  }
  SECTION("a directory") {
    fs::create_directories(t.path());
    CHECK_THROWS_AS(open_sqlite_state(t.path(), OpenMode::ReadWrite), Error);
  }
}

TEST_CASE("a version 1 state is migrated in place", "[state][migration]") {
  SubState t;
  {
    auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
    long long run = st->begin_run({"apply", "x"});
    StoredInstance a = instance("T/a");
    st->job_finished(st->job_started(run, 0, Action::Create, a), Action::Create, a, JobOutcome{});
  }
  // What version 1 wrote: no breaks column.
  exec(t.path(), "DROP TABLE meta; DROP TABLE outbox; ALTER TABLE instances DROP COLUMN protect; ALTER TABLE instances DROP COLUMN breaks; ALTER TABLE instances DROP COLUMN sensitive; PRAGMA user_version = 1");
  {
    // Read-only (ochre plan) reads it as it is, without migrating.
    auto ro = open_sqlite_state(t.path(), OpenMode::ReadOnly);
    REQUIRE(ro->load().size() == 1);
    CHECK_FALSE(ro->load()[0].breaks_known);
  }
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  auto all = st->load();
  REQUIRE(all.size() == 1);
  CHECK(all[0].key == "T/a");
  CHECK_FALSE(all[0].breaks_known);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(t.path().c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, nullptr);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(sqlite3_column_int(q, 0) == 7);
  sqlite3_finalize(q);
  // Version 7 dropped the index of jobs by key, which no query read.
  sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs_by_key'", -1, &q, nullptr);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(sqlite3_column_int(q, 0) == 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

TEST_CASE("rows are read back whole, and a damaged one names the instance and the way out", "[state]") {
  SubState t;
  {
    auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
    long long run = st->begin_run({"apply", "x"});
    StoredInstance a = instance("T/a");
    a.breaks = {"n"};
    a.sensitive = {"n", "identifier"};
    st->job_finished(st->job_started(run, 0, Action::Create, a), Action::Create, a, JobOutcome{});
    StoredInstance b = instance("T/b");  // stored before breaks were known
    st->job_finished(st->job_started(run, 1, Action::Create, b), Action::Create, b, JobOutcome{});
  }
  exec(t.path(), "UPDATE instances SET breaks = NULL, status = 'pending', error = 'later' WHERE key = 'T/b'");
  auto all = open_sqlite_state(t.path(), OpenMode::ReadOnly)->load();
  REQUIRE(all.size() == 2);
  CHECK(all[0].key == "T/a");
  CHECK(all[0].fields == instance("T/a").fields);
  CHECK(all[0].deps == std::vector<std::string>{"T/child"});
  CHECK(all[0].breaks == std::vector<std::string>{"n"});
  CHECK(all[0].breaks_known);
  CHECK(all[0].sensitive == std::vector<std::string>{"n", "identifier"});
  CHECK(all[0].status == Status::Ok);
  CHECK(all[0].action == Action::Create);
  CHECK(all[1].key == "T/b");
  CHECK(all[1].breaks.empty());
  CHECK_FALSE(all[1].breaks_known);
  CHECK(all[1].status == Status::Pending);
  CHECK(all[1].error == "later");

  const char* damage = GENERATE("UPDATE instances SET breaks = 'x' WHERE key = 'T/a'",
                                "UPDATE instances SET sensitive = 'x' WHERE key = 'T/a'",
                                "UPDATE instances SET deps = 'x' WHERE key = 'T/a'",
                                "UPDATE instances SET status = 'odd' WHERE key = 'T/a'");
  CAPTURE(damage);
  exec(t.path(), damage);
  try {
    open_sqlite_state(t.path(), OpenMode::ReadOnly)->load();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Code::State);
    CHECK(std::string(e.what()).find("damaged row for T/a") != std::string::npos);
  }
}

TEST_CASE("cluster submissions: none before the first, kept per key and slot, replaced, then dropped",
          "[state][slurm]") {
  SubState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK(st->submissions("T/a").empty());  // no table yet: nothing, and nothing made
  st->drop_submissions("T/a");
  st->put_submission({"T/a", 0, "tok0", "", "/d/tok0", "h0"});
  st->put_submission({"T/a", 1, "tok1", "17", "/d/tok1", "h1"});
  st->put_submission({"T/b", 0, "tokb", "18", "/d/tokb", "hb"});
  st->put_submission({"T/a", 0, "tok0", "16", "/d/tok0", "h0"});  // the job id, once sbatch answered
  auto a = open_sqlite_state(t.path(), OpenMode::ReadOnly)->submissions("T/a");  // committed
  REQUIRE(a.size() == 2);
  CHECK(a[0].slot == 0);
  CHECK(a[0].job_id == "16");
  CHECK(a[1].token == "tok1");
  CHECK(a[1].dir == "/d/tok1");
  CHECK(a[1].digest == "h1");
  st->drop_submissions("T/a");
  CHECK(st->submissions("T/a").empty());
  CHECK(st->submissions("T/b").size() == 1);
}

TEST_CASE("the sensitive fields recorded are read per type without whole rows, and a damaged one fails as load does",
          "[state]") {
  SubState t;
  {
    auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
    CHECK(st->recorded_sensitive().empty());
    long long run = st->begin_run({"apply", "x"});
    int seq = 0;
    for (const char* key : {"T/a", "T/b", "T/c"}) {
      StoredInstance s = instance(key);
      if (std::string(key) != "T/c") s.sensitive = {"n", "identifier"};
      st->job_finished(st->job_started(run, seq++, Action::Create, s), Action::Create, s, JobOutcome{});
    }
    StoredInstance u = instance("T/u");
    u.type = "U";
    u.sensitive = {"secret"};
    st->job_finished(st->job_started(run, seq++, Action::Create, u), Action::Create, u, JobOutcome{});
  }
  auto got = open_sqlite_state(t.path(), OpenMode::ReadOnly)->recorded_sensitive();
  std::sort(got.begin(), got.end());
  using Recorded = std::vector<std::pair<std::string, std::vector<std::string>>>;
  CHECK(got == Recorded{{"T", {"n", "identifier"}}, {"U", {"secret"}}});

  exec(t.path(), "UPDATE instances SET sensitive = 'not a list' WHERE key = 'T/b'");
  try {
    open_sqlite_state(t.path(), OpenMode::ReadOnly)->recorded_sensitive();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Code::State);
    CHECK(std::string(e.what()).find("damaged row for T/b") != std::string::npos);
  }
}
