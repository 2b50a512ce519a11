// Regressions for what the fuzzers found (tests/fuzz), each named after its bug.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>

#include "engine/canonical.hpp"
#include "engine/state.hpp"
#include "ochre/errors.hpp"

using namespace ochre;

TEST_CASE("fuzz_canonical: a float written with an exponent decodes back (1e-05, 1e+16, 1e+22)",
          "[canonical][fuzz]") {
  // Found by fuzz_canonical: encode writes d<repr>e with Python's repr, and a repr with an
  // exponent holds an 'e' too; decode ends the float at the first 'e' and refuses the
  // rest ("damaged value encoding"). A state holding such a field cannot be read again.
  for (double x : {1e-05, -1e-05, 1e16, 1e22, -9.007199449279054e+22, 1.5e300, 5e-324}) {
    INFO(x);
    std::string bytes = encode(Value::of_number(x));
    INFO(bytes);
    Value back;
    REQUIRE_NOTHROW(back = decode(bytes));
    CHECK(back == Value::of_number(x));
    CHECK(encode(back) == bytes);
  }
}

TEST_CASE("fuzz_canonical: floats without an exponent round-trip", "[canonical][fuzz]") {
  for (double x : {0.5, -0.75, 0.1, 9007199254740994.0, -9007199254740994.0, 123.25}) {
    INFO(x);
    std::string bytes = encode(Value::of_number(x));
    CHECK(decode(bytes) == Value::of_number(x));
  }
}

TEST_CASE("fuzz_state: a state file that is refused leaks no connection and no descriptor",
          "[state][fuzz]") {
  // Found by fuzz_state ("Too many open files" after some thousand inputs): when the
  // SqliteState constructor throws (a newer schema, not SQLite, damaged), its cached
  // statements are never finalized (the destructor's body does not run), so
  // sqlite3_close_v2 leaves the connection open as a zombie, with its file descriptors.
  auto fds = [] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) (void)e, ++n;
    return n;
  };
  std::string dir = (std::filesystem::temp_directory_path() / "ochre-fuzzfind-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()));
  std::string path = dir + "/state.db";
  { open_sqlite_state(path, OpenMode::ReadWrite)->load(); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  int before = fds();
  for (int i = 0; i < 20; ++i) {
    for (OpenMode mode : {OpenMode::ReadOnly, OpenMode::ReadWrite})
      CHECK_THROWS_AS(open_sqlite_state(path, mode), Error);
  }
  CHECK(fds() == before);
  std::filesystem::remove_all(dir);
}
