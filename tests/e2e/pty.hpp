// ochre on a terminal: a pseudo-terminal of a given width as its stdin, stdout and
// stderr (or stdout to a file, as `ochre run p.lua > out.txt` typed in a terminal). The
// test reads what appeared so far, waits for a text, and types.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace e2e {

class Pty {
 public:
  // Starts ochre `args` in `dir` on a terminal `columns` wide. `stdout_file`: stdout goes
  // to this file (relative to `dir`) instead of the terminal.
  Pty(const std::string& dir, const std::vector<std::string>& args, int columns = 80,
      const std::string& stdout_file = "", const std::map<std::string, std::string>& env = {});
  ~Pty();  // kills it (SIGKILL) if it still runs
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;

  // Reads until `text` has appeared (true) or `timeout` seconds pass (false).
  bool wait_for(const std::string& text, double timeout = 20);
  // Types `text` (a "\n" ends a line, "\x03" is Ctrl-C).
  void type(const std::string& text);
  // Reads to the end and returns the exit code (128 + signal when killed).
  int wait();
  // Everything the terminal received so far.
  const std::string& output() const { return out_; }

 private:
  bool read_some(int timeout_ms);
  pid_t pid_ = -1;
  int master_ = -1;
  std::string out_;
};

}  // namespace e2e
