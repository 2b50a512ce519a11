// The ochre binary run on a real pseudo-terminal for the REPL's tests: output read with
// a deadline, never slept on. (Also the argv/envp and signal defaults the piped REPL
// sessions of test_repl.cpp use.)
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "e2e/harness.hpp"

extern char** environ;

namespace e2e {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_in(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

inline int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 50));
}

// argv and envp for the ochre binary, prepared before fork (as the harness does).
struct Exec {
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  Exec(const TempDir& dir, const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    argv_s.push_back(OCHRE_BIN);
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    vars.erase("OCHRE_STATE");
    vars["NO_COLOR"] = "1";
    for (const auto& [k, v] : dir.state_env()) vars[k] = v;
    for (const auto& [k, v] : env) vars[k] = v;
    for (const auto& [k, v] : vars) env_s.push_back(k + "=" + v);
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

inline void child_defaults() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaction(sig, &dfl, nullptr);
}


// `ochre repl` on a real pseudo-terminal; output read with a deadline, never slept on.
class ReplPty {
 public:
  ReplPty(const TempDir& dir, const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    Exec ex(dir, args, env);
    struct winsize ws {};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ < 0) throw std::runtime_error("forkpty");
    if (pid_ == 0) {
      child_defaults();
      if (chdir(dir.path().c_str()) != 0) _exit(127);
      execve(ex.argv[0], ex.argv.data(), ex.envp.data());
      _exit(127);
    }
    fcntl(fd_, F_SETFD, FD_CLOEXEC);
  }
  ~ReplPty() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  ReplPty(const ReplPty&) = delete;
  ReplPty& operator=(const ReplPty&) = delete;

  // Types `keys` once the line editor reads (the terminal is in raw mode): typed earlier,
  // the kernel would echo and buffer them as a cooked line, and eat a Ctrl-D.
  void type(const std::string& keys) {
    auto deadline = deadline_in(20);
    while (fd_ >= 0 && !raw() && Clock::now() < deadline) pump(5);
    REQUIRE(raw());
    for (size_t off = 0; off < keys.size();) {
      ssize_t n = ::write(fd_, keys.data() + off, keys.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("cannot write to the pty");
      off += static_cast<size_t>(n);
    }
  }

  // Writes `keys` as they are, whatever mode the terminal is in (a Ctrl-C while Lua runs).
  void press(const std::string& keys) {
    REQUIRE(::write(fd_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size()));
  }

  // Waits until `text` appears after what earlier expect() calls consumed; true when it
  // did, and then consumes up to its end.
  bool expect(const std::string& text, double timeout = 20) {
    auto deadline = deadline_in(timeout);
    size_t at;
    while ((at = out_.find(text, mark_)) == std::string::npos && fd_ >= 0 && Clock::now() < deadline)
      pump(ms_left(deadline));
    at = out_.find(text, mark_);
    if (at == std::string::npos) return false;
    last_ = out_.substr(mark_, at + text.size() - mark_);
    mark_ = at + text.size();
    return true;
  }
  // What the last successful expect() consumed.
  const std::string& last() const { return last_; }
  const std::string& all() const { return out_; }

  // Reads to the end (the slave side closed) and reaps; the exit code.
  int wait(double timeout = 20) {
    auto deadline = deadline_in(timeout);
    while (fd_ >= 0 && Clock::now() < deadline) pump(ms_left(deadline));
    if (fd_ >= 0) ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    reaped_ = true;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

 private:
  void pump(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return;
    char buf[65536];
    ssize_t got = ::read(fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) return;
    if (got <= 0) {  // EIO once the slave side is closed
      close(fd_);
      fd_ = -1;
      return;
    }
    out_.append(buf, static_cast<size_t>(got));
  }

  // The slave's modes, read on the master (they share them on Linux).
  bool raw() const {
    termios tio{};
    return fd_ >= 0 && tcgetattr(fd_, &tio) == 0 && !(tio.c_lflag & ICANON);
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string out_, last_;
  size_t mark_ = 0;
};


}  // namespace e2e
