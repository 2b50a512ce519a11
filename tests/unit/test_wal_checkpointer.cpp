// The checkpoints of the write-ahead log, made on a thread of their own: the log is
// copied by that thread, starts again from its beginning, and the writer copies it
// itself when the thread cannot open the file.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "engine/wal_checkpointer.hpp"
#include "unit/temp_state.hpp"

using namespace ochre;
namespace fs = std::filesystem;

namespace {

constexpr int kPages = 64;  // the log length that asks for a checkpoint, in the tests

struct Writer {
  sqlite3* db = nullptr;
  std::string path;
  explicit Writer(std::string p) : path(std::move(p)) {
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t(x BLOB); BEGIN IMMEDIATE");
  }
  ~Writer() { sqlite3_close(db); }
  void exec(const char* sql) { REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK); }
  // One commit of about `pages` pages. As ochre's writer does, it begins its next
  // transaction as soon as it has committed.
  void commit(int pages) {
    for (int i = 0; i < pages; ++i) exec("INSERT INTO t VALUES(randomblob(3000))");
    exec("COMMIT; BEGIN IMMEDIATE");
  }
  long long rows() {
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    long long n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
  }
  uintmax_t size(const char* end = "") { return fs::file_size(path + end); }
  // Pages in the log (its frames), from its size.
  uintmax_t log_pages() { return (size("-wal") - 32) / (4096 + 24); }
};

}  // namespace

TEST_CASE("the write-ahead log is copied by the checkpointer's thread and starts again", "[state][wal]") {
  TempState t;
  Writer w(t.path());
  WalCheckpointer cp(t.path(), kPages);
  cp.attach(w.db);
  uintmax_t empty = w.size();
  // Below the length that asks: nothing is copied.
  w.commit(kPages / 4);
  cp.wait_idle();
  CHECK(w.size() == empty);
  while (w.log_pages() < kPages) w.commit(8);
  // The commit that made the log long enough asked the thread; the writer copied nothing
  // (its own checkpoints are replaced), so a larger file is the thread's work.
  cp.wait_idle();
  CHECK(w.size() > empty + kPages / 2 * 4096);
  // The thread caught up, but the transaction the writer began meanwhile still reads
  // the log: the next commit adds to it and copies it itself (a few pages), and the
  // commits after that write the log from its beginning again (the file keeps its
  // length, and does not grow).
  w.commit(2);
  uintmax_t longest = w.size("-wal");
  w.commit(2);
  w.commit(2);
  CHECK(w.size("-wal") == longest);
  // Many more commits: the log stays within a few times the length that asks.
  for (int i = 0; i < 100; ++i) {
    w.commit(8);
    if (i % 10 == 0) cp.wait_idle();
  }
  CHECK(w.log_pages() < 4 * kPages);
  w.exec("COMMIT");
  // All rows are there for another connection.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(t.path().c_str(), &other) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(other, "SELECT count(*) FROM t", -1, &q, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(q) == SQLITE_ROW);
  CHECK(sqlite3_column_int64(q, 0) == w.rows());
  sqlite3_finalize(q);
  sqlite3_close(other);
}

TEST_CASE("a checkpointer that cannot open the file leaves the writer to copy the log itself", "[state][wal]") {
  TempState t;
  Writer w(t.path());
  WalCheckpointer cp((t.dir / "missing" / "state.db").string(), kPages);
  cp.attach(w.db);
  uintmax_t empty = w.size();
  while (w.log_pages() < kPages) w.commit(8);
  cp.wait_idle();  // the thread tried, and gave up
  w.commit(2);     // so this commit's checkpoint is the writer's
  CHECK(w.size() > empty + kPages / 2 * 4096);
  uintmax_t longest = w.size("-wal");
  w.commit(2);
  w.commit(2);
  CHECK(w.size("-wal") == longest);
}
