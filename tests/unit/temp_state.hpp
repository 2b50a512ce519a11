// A temporary directory for a state file, removed with everything in it.
#pragma once
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <filesystem>
#include <string>

struct TempState {
  std::filesystem::path dir;
  std::string file;  // the state's path within dir
  explicit TempState(std::string file_in_dir = "state.db") : file(std::move(file_in_dir)) {
    std::string t = (std::filesystem::temp_directory_path() / "ochre-unit-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()));
    dir = t;
  }
  ~TempState() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string path() const { return (dir / file).string(); }
};
