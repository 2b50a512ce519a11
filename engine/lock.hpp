// The state lock: one writer at a time. A lock file beside the state holds an flock(2)
// lock, released by the kernel when its holder dies, and says who holds it.
#pragma once
#include <memory>
#include <string>

namespace ochre {

class StateLock {
 public:
  // Takes the lock on `path` (a lock file), waiting up to `timeout` seconds; throws
  // Error(Code::Locked) naming the holder (pid, host, since when).
  static std::unique_ptr<StateLock> acquire(const std::string& path, const std::string& state,
                                            double timeout);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace ochre
