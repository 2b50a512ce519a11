#include "engine/wal_checkpointer.hpp"

#include <sqlite3.h>

namespace ochre {

WalCheckpointer::~WalCheckpointer() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WalCheckpointer::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !wanted_ && !busy_; });
}

void WalCheckpointer::attach(sqlite3* writer) { sqlite3_wal_hook(writer, &WalCheckpointer::on_commit, this); }

int WalCheckpointer::on_commit(void* self, sqlite3* writer, const char*, int frames) {
  static_cast<WalCheckpointer*>(self)->committed(writer, frames);
  return SQLITE_OK;  // what a checkpoint finds is the checkpoint's business, not the commit's
}

// SQLite starts the log again from its beginning only at a write whose transaction
// began when all of it was copied. The writer begins its next transaction as soon as
// it has committed, before the thread can have copied that commit: so once the thread
// has caught up, the writer copies the few pages committed since itself.
void WalCheckpointer::committed(sqlite3* writer, int frames) {
  if (frames < pages_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_ && !caught_up_) {
      wanted_ = true;
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
      cv_.notify_all();
      return;
    }
    caught_up_ = false;
  }
  sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

void WalCheckpointer::run() {
  sqlite3* db = nullptr;
  // A connection knows the file is in WAL mode once it has read it: a checkpoint before
  // that does nothing.
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK ||
      sqlite3_exec(db, "PRAGMA schema_version", nullptr, nullptr, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(db);
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed_ = true;
      wanted_ = false;
    }
    cv_.notify_all();
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return wanted_ || stop_; });
    if (stop_) break;
    wanted_ = false;
    busy_ = true;
    lock.unlock();
    // Passive: it never waits for the writer, and copies what was committed when it
    // began. The writer restarts the log at its next commit once all of it is copied,
    // so rounds go on while they catch up (while a reader holds an old snapshot, they
    // would not, and the next commit asks again).
    int copied = -1;
    bool all = false;
    while (true) {
      int log = 0, done = 0;
      if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) != SQLITE_OK) break;
      all = done >= log;
      if (all || done <= copied) break;
      copied = done;
    }
    lock.lock();
    caught_up_ = all;
    busy_ = false;
    cv_.notify_all();
  }
  lock.unlock();
  sqlite3_close_v2(db);
}

}  // namespace ochre
