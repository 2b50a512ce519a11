// Foreign, damaged, newer, older, read-only and unreachable states, through the binary:
// a clear error (exit 2) and nothing overwritten, or, for an older schema, a migration
// in place. Also: the state is created owner-only whatever the umask.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

const std::string pipeline = R"(local ochre = require "ochre"
local Model = ochre.component "Model" {
  breaks = { "model" },
  fields = { model = "base", source = ochre.required, size = 1 },
}
return Model "m" { source = "data" }
)";

void exec_sql(const TempDir& dir, const std::string& sql, const std::string& db = ".ochre/state.db") {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(dir.file(db).c_str(), &h) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

// A directory with the pipeline applied once; its state file alone (no WAL left).
struct Applied {
  TempDir dir;
  Applied() {
    dir.write("pipeline.lua", pipeline);
    auto r = dir.ochre({"run", "pipeline.lua"});
    REQUIRE(r.code == 0);
    REQUIRE_FALSE(dir.exists(".ochre/state.db-wal"));
  }
};

int user_version(const TempDir& dir, const std::string& db = ".ochre/state.db") {
  return std::stoi(dir.query("PRAGMA user_version", db).at(0));
}

// Runs each command that reads the instances on the damaged state (and `log` when the
// whole file is bad): exit 2, one line naming the state and `what`, the file untouched.
void refused_everywhere(const TempDir& dir, const std::string& what, bool whole_file = true) {
  const std::string before = dir.bytes(".ochre/state.db");
  std::vector<Rows> commands = {Rows{"run", "pipeline.lua"}, Rows{"plan", "pipeline.lua"},
                                Rows{"destroy", "pipeline.lua"}, Rows{"state", "list"},
                                Rows{"state", "show", "Model/m"}};
  if (whole_file) commands.push_back(Rows{"log"});
  for (const Rows& args : commands) {
    auto r = dir.ochre(args);
    INFO(args[0] << ": " << r.out << r.err);
    CHECK(r.code == 2);
    CHECK(e2e::count(r.err, "\n") == 1);
    std::string line = e2e::first_line(r.err);
    CHECK(line.rfind("error: state '", 0) == 0);
    CHECK(line.find(".ochre/state.db'") != std::string::npos);
    CHECK(line.find(what) != std::string::npos);
    CHECK((dir.bytes(".ochre/state.db") == before));
  }
}

// Whether this process can run ochre as someone who does not own the files (root runs
// it as nobody through setpriv; anyone else is already not root).
bool can_drop_privileges() {
  return geteuid() != 0 || access("/usr/bin/setpriv", X_OK) == 0;
}

// Runs ochre as that other user, in `dir` (made theirs first when we are root).
e2e::Result ochre_as_user(const TempDir& dir, const Rows& args) {
  if (geteuid() != 0) return dir.ochre(args);
  Rows argv{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", OCHRE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return dir.run(argv);
}

void give_to_user(const TempDir& dir) {
  if (geteuid() != 0) return;
  chmod(dir.path().c_str(), 0755);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path()))
    REQUIRE(lchown(e.path().c_str(), 65534, 65534) == 0);
  REQUIRE(chown(dir.path().c_str(), 65534, 65534) == 0);
}

}  // namespace

TEST_CASE("a state file that is not SQLite is refused by every command, untouched",
          "[e2e][state][damaged][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  std::string junk;
  for (int i = 0; i < 200; ++i) junk += "this is a shopping list, not a database. ";
  dir.write(".ochre/state.db", junk);
  refused_everywhere(dir, "not an ochre state (the file is not a SQLite database)");
}

TEST_CASE("another application's SQLite database is refused, untouched", "[e2e][state][damaged][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  dir.write(".ochre/placeholder", "");
  exec_sql(dir, "CREATE TABLE contacts(name TEXT, phone TEXT); INSERT INTO contacts VALUES('ann', '123')");
  refused_everywhere(dir, "a SQLite database that is not an ochre state");
  CHECK(dir.query("SELECT name FROM contacts") == Rows{"ann"});
}

TEST_CASE("a truncated state is refused, untouched, and works again once restored",
          "[e2e][state][damaged][sqlite]") {
  Applied a;
  const std::string whole = a.dir.bytes(".ochre/state.db");
  for (size_t keep : {whole.size() / 2, size_t(4096), size_t(100)}) {
    INFO("kept " << keep << " of " << whole.size() << " bytes");
    a.dir.write(".ochre/state.db", whole.substr(0, keep));
    const std::string cut = a.dir.bytes(".ochre/state.db");
    for (const Rows& args : {Rows{"run", "pipeline.lua"}, Rows{"plan", "pipeline.lua"}, Rows{"state", "list"}}) {
      auto r = a.dir.ochre(args);
      INFO(args[0] << ": " << r.out << r.err);
      CHECK(r.code == 2);
      CHECK(e2e::first_line(r.err).rfind("error: state '", 0) == 0);
      CHECK(r.err.find("stack traceback") == std::string::npos);
      CHECK((a.dir.bytes(".ochre/state.db") == cut));
    }
    std::filesystem::remove(a.dir.file(".ochre/state.db-wal"));
    std::filesystem::remove(a.dir.file(".ochre/state.db-shm"));
  }
  a.dir.write(".ochre/state.db", whole);
  auto r = a.dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
}

TEST_CASE("a state from a newer ochre is refused, untouched, with what to do", "[e2e][state][damaged][sqlite]") {
  Applied a;
  exec_sql(a.dir, "PRAGMA user_version = 99");
  const std::string before = a.dir.bytes(".ochre/state.db");
  for (const Rows& args : {Rows{"run", "pipeline.lua"}, Rows{"plan", "pipeline.lua"}, Rows{"state", "list"}}) {
    auto r = a.dir.ochre(args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.code == 2);
    std::string line = e2e::first_line(r.err);
    CHECK(line.find("has schema version 99, newer than this ochre knows") != std::string::npos);
    CHECK(line.find("upgrade ochre") != std::string::npos);
    CHECK((a.dir.bytes(".ochre/state.db") == before));
  }
  CHECK(user_version(a.dir) == 99);
}

TEST_CASE("a damaged row is refused, naming the instance, untouched", "[e2e][state][damaged][sqlite]") {
  Applied a;
  exec_sql(a.dir, "UPDATE instances SET status = 'exploded'");
  refused_everywhere(a.dir, "damaged row for Model/m", false);
}

TEST_CASE("a damaged value names the state file and the instance, untouched",
          "[e2e][state][damaged][sqlite]") {
  // Today: "state '(value)': damaged value encoding at byte 0", neither the file nor the
  // key (state_sqlite.cpp's load() lets canonical.cpp's decode error through as it is).
  Applied a;
  exec_sql(a.dir, "UPDATE instances SET fields = 'zzz not an encoding'");
  refused_everywhere(a.dir, "Model/m", false);
}

TEST_CASE("an older schema (version 1) is read as it is by plan and migrated in place by run",
          "[e2e][state][migration][sqlite]") {
  Applied a;
  TempDir fresh;
  fresh.write("pipeline.lua", pipeline);
  REQUIRE(fresh.ochre({"run", "pipeline.lua"}).code == 0);
  const int current = user_version(fresh);
  REQUIRE(current >= 2);
  const Rows stored = a.dir.query("SELECT key, uuid, hash, hex(fields), status FROM instances");

  // What version 1 wrote: no breaks column.
  exec_sql(a.dir, "DROP TABLE meta; DROP TABLE outbox; ALTER TABLE instances DROP COLUMN protect; ALTER TABLE instances DROP COLUMN breaks; ALTER TABLE instances DROP COLUMN sensitive; PRAGMA user_version = 1");
  const std::string v1 = a.dir.bytes(".ochre/state.db");

  // The read-only views read it as it is and change nothing.
  auto r = a.dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  r = a.dir.ochre({"state", "list"});
  CHECK(r.code == 0);
  CHECK(r.out.find("Model/m") != std::string::npos);
  CHECK((a.dir.bytes(".ochre/state.db") == v1));
  CHECK(user_version(a.dir) == 1);

  // A run migrates it: nothing to do, the schema is the current one, the rows kept.
  r = a.dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  CHECK(user_version(a.dir) == current);
  CHECK(a.dir.query("SELECT key, uuid, hash, hex(fields), status FROM instances") == stored);
  // The migrated rows learn their breaking fields, so state mv works.
  CHECK(a.dir.query("SELECT breaks IS NOT NULL FROM instances") == Rows{"1"});
  r = a.dir.ochre({"state", "mv", "Model/m", "Model/n"});
  CHECK(r.code == 0);
  // And the same schema as a fresh state: same tables and columns.
  const std::string schema = "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name";
  CHECK(a.dir.query(schema) .size() == fresh.query(schema).size());
  CHECK(a.dir.query("SELECT group_concat(name) FROM pragma_table_info('instances')") ==
        fresh.query("SELECT group_concat(name) FROM pragma_table_info('instances')"));
}

TEST_CASE("a state directory that cannot be created: a clear error, nothing made",
          "[e2e][state][damaged][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  dir.write("afile", "a file where a directory should be");
  auto r = dir.ochre({"run", "pipeline.lua", "--state", "afile/sub/state.db"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(e2e::count(r.err, "\n") == 1);
  CHECK(e2e::first_line(r.err) ==
        "error: state 'afile/sub/state.db': cannot create directory afile/sub: Not a directory");
  CHECK(dir.read("afile") == "a file where a directory should be");
  // plan only reads: with no state there, it plans against an empty one.
  r = dir.ochre({"plan", "pipeline.lua", "--state", "afile/sub/state.db"});
  CHECK(r.code == 0);
  CHECK(r.out.find("CREATE") != std::string::npos);

  if (!can_drop_privileges()) {
    WARN("cannot run as another user here: the read-only parent directory is not tried");
    return;
  }
  TempDir locked;
  locked.write("pipeline.lua", pipeline);
  give_to_user(locked);
  REQUIRE(chmod(locked.path().c_str(), 0555) == 0);
  r = ochre_as_user(locked, {"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(e2e::first_line(r.err).find("cannot create directory " + locked.file(".ochre") + ": Permission denied") !=
        std::string::npos);
  CHECK_FALSE(locked.exists(".ochre"));
  chmod(locked.path().c_str(), 0755);
}

TEST_CASE("a read-only state: run fails clearly writing nothing, the read-only views work",
          "[e2e][state][damaged][sqlite]") {
  if (!can_drop_privileges()) {
    WARN("cannot run as another user here: skipped");
    return;
  }
  Applied a;
  std::string changed = pipeline;
  changed.replace(changed.find("source = \"data\""), 15, "source = \"data\", size = 2");
  a.dir.write("pipeline.lua", changed);
  give_to_user(a.dir);
  REQUIRE(chmod(a.dir.file(".ochre/state.db").c_str(), 0444) == 0);
  const std::string before = a.dir.bytes(".ochre/state.db");

  auto r = ochre_as_user(a.dir, {"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(e2e::count(r.err, "\n") == 1);
  CHECK(e2e::first_line(r.err).find("readonly database") != std::string::npos);
  CHECK((a.dir.bytes(".ochre/state.db") == before));

  r = ochre_as_user(a.dir, {"plan", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out.find("UPDATE") != std::string::npos);
  r = ochre_as_user(a.dir, {"state", "show", "Model/m"});
  CHECK(r.code == 0);
  CHECK(r.out.find("size = 1") != std::string::npos);
  CHECK((a.dir.bytes(".ochre/state.db") == before));
}

TEST_CASE("a lock file that cannot be opened: a clear error, the state untouched", "[e2e][state][damaged][sqlite]") {
  Applied a;
  std::filesystem::remove(a.dir.file(".ochre/state.db.lock"));
  std::filesystem::create_directories(a.dir.file(".ochre/state.db.lock"));
  const std::string before = a.dir.bytes(".ochre/state.db");
  auto r = a.dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 2);
  CHECK(e2e::first_line(r.err).find("cannot open lock file") != std::string::npos);
  CHECK((a.dir.bytes(".ochre/state.db") == before));
}

TEST_CASE("the state, its journal files and its lock are owner-only, whatever the umask",
          "[e2e][state][secrets][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local Slow = ochre.component "Slow" {
  create = function(self)
    io.open("started", "w"):close()
    assert(ochre.wait_file("go", { timeout = 30 }))
  end,
}
return Slow "s" {}
)");
  auto p = dir.start_program({"/bin/sh", "-c", "umask 000; exec \"$OCHRE\" run pipeline.lua"});
  REQUIRE(dir.wait_for_file("started"));
  auto mode = [&](const std::string& name) {
    struct stat st {};
    REQUIRE(stat(dir.file(name).c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  // While a job runs the WAL and its index exist: SQLite gives them the file's mode.
  for (const char* f : {".ochre/state.db", ".ochre/state.db-wal", ".ochre/state.db-shm", ".ochre/state.db.lock"}) {
    INFO(f);
    CHECK(mode(f) == 0600);
  }
  dir.write("go", "");
  auto r = p->wait();
  CHECK(r.code == 0);
  CHECK(mode(".ochre/state.db") == 0600);
}
