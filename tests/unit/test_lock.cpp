// The state lock: one holder at a time, a clear message naming it, free once released.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/lock.hpp"
#include "ochre/errors.hpp"

using namespace ochre;
namespace fs = std::filesystem;

TEST_CASE("a second holder is refused with the first one's pid", "[lock]") {
  std::string t = (fs::temp_directory_path() / "ochre-lock-XXXXXX").string();
  REQUIRE(mkdtemp(t.data()));
  std::string path = t + "/state.db.lock";
  {
    auto first = FileLock::acquire(path, "state.db", 0);
    try {
      FileLock::acquire(path, "state.db", 0);
      FAIL("expected the lock to be held");
    } catch (const Error& e) {
      CHECK(e.code() == Code::Locked);
      CHECK(e.kind() == ErrorKind::Locked);
      CHECK(exit_status(e.kind()) == 3);
      CHECK(std::string(e.what()).find("pid " + std::to_string(getpid())) != std::string::npos);
      CHECK(std::string(e.what()).find("--lock-timeout") != std::string::npos);
    }
    CHECK_THROWS_AS(FileLock::acquire(path, "state.db", 0.2), Error);
  }
  // Released: free again, even though a previous holder's note was left behind.
  std::ofstream(path) << "pid 999999 on elsewhere since long ago\n";
  auto again = FileLock::acquire(path, "state.db", 0);
  CHECK(again != nullptr);
  fs::remove_all(t);
}
