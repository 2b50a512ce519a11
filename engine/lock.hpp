// The SQLite state's lock: one writer at a time. A lock file beside the state holds an
// flock(2) lock, released by the kernel when its holder dies, and says who holds it.
#pragma once
#include <memory>
#include <string>

#include "engine/state.hpp"

namespace ochre {

class FileLock final : public StateLock {
 public:
  // Takes the lock on `path` (a lock file), waiting up to `timeout` seconds; throws
  // Error(Code::Locked) naming the holder (pid, host, since when).
  static std::unique_ptr<FileLock> acquire(const std::string& path, const std::string& state,
                                           double timeout);
  ~FileLock() override;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// "pid 123 on HOST since 2026-01-01T00:00:00Z": who takes a lock now.
std::string lock_holder_note();

}  // namespace ochre
