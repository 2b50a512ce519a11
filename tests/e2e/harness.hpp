// Helpers for end-to-end tests: a temporary directory with files, the real ochre binary
// run in it with captured output, and queries on the SQLite state it writes.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace e2e {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const;
  std::string read(const std::string& name) const;
  bool exists(const std::string& name) const;

  // Runs ochre with `args` in this directory. `env` entries are added to the environment.
  Result ochre(const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {}) const;

  // Rows of a query on the SQLite file `db` (relative to this directory), fields joined by '|'.
  std::vector<std::string> query(const std::string& sql,
                                 const std::string& db = ".ochre/state.db") const;
  // The bytes of a file, for "unchanged" checks; empty when it does not exist.
  std::string bytes(const std::string& name) const;

 private:
  std::string path_;
};

// Counts the occurrences of `needle` in `hay`.
int count(const std::string& hay, const std::string& needle);
// The first line of `text`.
std::string first_line(const std::string& text);

}  // namespace e2e
