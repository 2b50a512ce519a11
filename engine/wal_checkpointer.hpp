// The checkpoints of a SQLite state's write-ahead log, on a thread and a connection of
// their own. A checkpoint copies the log into the database and waits for the disk twice;
// made by the thread that commits (SQLite's way), it stopped a run of a million jobs for
// a tenth of its apply. Here the thread that commits only says how long the log is.
#pragma once
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace ochre {

class WalCheckpointer {
 public:
  // `pages`: the length of the log that asks for a checkpoint.
  WalCheckpointer(std::string path, int pages) : path_(std::move(path)), pages_(pages) {}
  ~WalCheckpointer();  // waits for a checkpoint under way, then closes its connection
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Makes `writer`'s commits report to this (sqlite3_wal_hook, in place of SQLite's
  // own checkpoints).
  void attach(sqlite3* writer);
  // Returns once the thread has no checkpoint asked for or under way (for tests).
  void wait_idle();

 private:
  static int on_commit(void* self, sqlite3* writer, const char* db, int frames);
  void committed(sqlite3* writer, int frames);
  void run();

  const std::string path_;
  const int pages_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;  // started by the first log long enough
  bool wanted_ = false, busy_ = false, stop_ = false;
  bool failed_ = false;     // the thread has no connection: the writer checkpoints itself
  bool caught_up_ = false;  // the thread's last round copied the whole log
};

}  // namespace ochre
