#include "engine/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "ochre/errors.hpp"

namespace ochre {

namespace {

std::string holder_text(int fd) {
  char buf[512] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, n) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "another ochre" : s;
}

std::string now_text() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string lock_holder_note() {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return "pid " + std::to_string(getpid()) + " on " + host + " since " + now_text();
}

std::unique_ptr<FileLock> FileLock::acquire(const std::string& path, const std::string& state,
                                              double timeout) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(Msg::StateMkdir, {state, dir.string(), ec.message()});
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) fail(Msg::LockFileOpen, {state, path, std::strerror(errno)});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int e = errno;
      ::close(fd);
      fail(Msg::LockFailed, {state, std::strerror(e)});
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string who = holder_text(fd);
      ::close(fd);
      if (timeout > 0) fail(Code::Locked, {state, who});
      fail(Msg::LockedNoTimeout, {state, who});
    }
    // Waiting for another process: a short pause between attempts costs no CPU.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string me = lock_holder_note() + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The lock holds even if the note about who holds it could not be written.
  }
  return std::unique_ptr<FileLock>(new FileLock(fd));
}

FileLock::~FileLock() {
  if (ftruncate(fd_, 0) != 0) {
  }
  flock(fd_, LOCK_UN);
  ::close(fd_);
}

std::unique_ptr<StateLock> lock_state(const std::string& location, const std::string& workspace,
                                      double timeout) {
  if (is_postgres_location(location)) return lock_postgres_state(location, workspace, timeout);
  std::string path = sqlite_workspace_path(location, workspace);
  return FileLock::acquire(path + ".lock", path, timeout);
}

}  // namespace ochre
