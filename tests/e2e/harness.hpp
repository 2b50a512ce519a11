// Helpers for end-to-end tests: a temporary directory with files, the real ochre binary
// run in it with captured output, and queries on the SQLite state it writes.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace e2e {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// An ochre started in the background: its pid, signals, its output so far, its end.
class Process {
 public:
  Process(pid_t pid, int out_fd, int err_fd);
  ~Process();  // kills it (SIGKILL) and reaps it if it is still there
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` to the process; false when it has already been reaped.
  bool signal(int sig);
  // Sends `sig` to its process group, as a terminal's Ctrl-C does (it leads its own group).
  bool signal_group(int sig);
  // True while it has not exited (reaps it when it has).
  bool running();
  // Waits for it to exit and for its output; code is 128 + signal when a signal ended it.
  Result wait();
  // What it printed so far.
  std::string out_so_far() const;
  std::string err_so_far() const;

 private:
  void drain();
  pid_t pid_;
  int fds_[2];
  bool reaped_ = false;
  int status_ = 0;
  mutable std::mutex mu_;
  std::string out_, err_;
  std::atomic<bool> stop_{false}, eof_{false};
  std::thread reader_;
};

// Polls `cond` every few milliseconds until it holds (true) or `timeout` seconds pass (false).
bool wait_until(const std::function<bool()>& cond, double timeout = 20);
// True when no process `pid` runs any more (it does not exist or is a zombie).
bool process_gone(pid_t pid);
// True when process `pid` has `path` open.
bool has_open(pid_t pid, const std::string& path);
// The pid of a process that has exited (and been reaped): no process has it now.
pid_t dead_pid();

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
  // Starts ochre the same way, in the background, as the leader of its own process group.
  std::unique_ptr<Process> start(const std::vector<std::string>& args,
                                 const std::map<std::string, std::string>& env = {}) const;
  // Runs any program (argv[0] a path) the same way, with $OCHRE set to the ochre binary:
  // e.g. {"/bin/sh", "-c", "ulimit -n 20; exec \"$OCHRE\" run pipeline.lua"}.
  Result run(const std::vector<std::string>& argv,
             const std::map<std::string, std::string>& env = {}) const;
  std::unique_ptr<Process> start_program(std::vector<std::string> argv,
                                         const std::map<std::string, std::string>& env = {}) const;
  // Waits (polling, with a deadline of `timeout` seconds) until file `name` exists.
  bool wait_for_file(const std::string& name, double timeout = 20) const;
  // The lines of file `name` (none when it does not exist).
  std::vector<std::string> lines(const std::string& name) const;

  // Whether the default state exists (.ochre/state.db, or this directory's schema).
  bool has_state() const;
  // The default state's contents, for "unchanged" checks: the SQLite file's bytes, or
  // every row of the schema's tables (the lock's note aside).
  std::string state_bytes() const;
  // Whether ochre `pid` asked for the default state's lock (and waits for it): it has the
  // lock file open, or a PostgreSQL session of its is trying the advisory lock.
  bool waiting_for_lock(pid_t pid) const;
  // Removes the default state (and .ochre), for a fresh start.
  void forget_state() const;

  // What the environment of an ochre run here needs besides (OCHRE_STATE in the
  // PostgreSQL run of the suite).
  std::map<std::string, std::string> state_env() const {
    if (state_.empty()) return {};
    return {{"OCHRE_STATE", state_}};
  }

  // Rows of a query on the SQLite file `db` (relative to this directory), fields joined by '|'.
  std::vector<std::string> query(const std::string& sql,
                                 const std::string& db = ".ochre/state.db") const;
  // Runs statements that change the default state (in the PostgreSQL run, on this
  // directory's schema), for a state as a dead or older ochre would have left it.
  void change_state(const std::string& sql) const;
  // The bytes of a file, for "unchanged" checks; empty when it does not exist.
  std::string bytes(const std::string& name) const;

 private:
  std::string path_;
  std::string schema_, state_;  // the PostgreSQL run: this directory's schema and state URL
};

// True in the run of the suite against PostgreSQL (OCHRE_E2E_BACKEND=postgres): each
// TempDir then has a schema of its own in the cluster at $OCHRE_TEST_PG, ochre runs with
// OCHRE_STATE pointing at it, and query() on the default state reads it there.
bool postgres_backend();
std::string postgres_url();

// Counts the occurrences of `needle` in `hay`.
int count(const std::string& hay, const std::string& needle);
// The first line of `text`.
std::string first_line(const std::string& text);

}  // namespace e2e
