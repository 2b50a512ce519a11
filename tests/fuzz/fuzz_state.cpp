// libFuzzer target: the state loader on arbitrary bytes written to a state file. Opening
// read-only (ochre plan) and read-write (ochre run, which migrates older schemas) must
// either read it or refuse it with an ochre::Error; nothing may crash.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/state.hpp"
#include "ochre/errors.hpp"

using namespace ochre;

namespace {

std::string scratch() {
  static std::string dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "ochre-fuzz-state-XXXXXX").string();
    if (!mkdtemp(t.data())) std::abort();
    return t;
  }();
  return dir;
}

void read_all(StateStore& st) {
  for (const StoredInstance& s : st.load()) (void)st.versions(s.key);
  (void)st.roots();
  for (const RunRecord& r : st.runs(3)) (void)st.jobs_of_run(r.id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = scratch() + "/state.db";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  for (OpenMode mode : {OpenMode::ReadOnly, OpenMode::ReadWrite}) {
    try {
      auto st = open_sqlite_state(path, mode);
      read_all(*st);
      if (mode == OpenMode::ReadWrite) (void)st->recover_interrupted();
    } catch (const Error&) {
      // refused: a foreign, damaged or newer file
    }
  }
  return 0;
}
