#include "e2e/pty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace e2e {

Pty::Pty(const std::string& dir, const std::vector<std::string>& args, int columns, const std::string& stdout_file,
         const std::map<std::string, std::string>& env) {
  struct winsize ws {};
  ws.ws_col = static_cast<unsigned short>(columns);
  ws.ws_row = 24;
  pid_ = forkpty(&master_, nullptr, nullptr, &ws);
  if (pid_ < 0) throw std::runtime_error("forkpty failed");
  if (pid_ == 0) {
    if (chdir(dir.c_str()) != 0) _exit(127);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    unsetenv("NO_COLOR");
    setenv("TERM", "xterm", 1);
    if (!stdout_file.empty()) {
      int fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(127);
      dup2(fd, STDOUT_FILENO);
      close(fd);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(OCHRE_BIN));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(OCHRE_BIN, argv.data());
    _exit(127);
  }
}

Pty::~Pty() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (master_ >= 0) close(master_);
}

// Reads what is there within `timeout_ms`; false at the end (the terminal closed).
bool Pty::read_some(int timeout_ms) {
  struct pollfd p {master_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return true;
  char buf[4096];
  ssize_t n = read(master_, buf, sizeof buf);
  if (n <= 0) return false;  // EIO once every copy of the terminal's slave side is closed
  out_.append(buf, static_cast<size_t>(n));
  return true;
}

bool Pty::wait_for(const std::string& text, double timeout) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  while (out_.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > end) return false;
    if (!read_some(50)) return out_.find(text) != std::string::npos;
  }
  return true;
}

void Pty::type(const std::string& text) {
  if (write(master_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot type on the terminal");
}

int Pty::wait() {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_some(100) && std::chrono::steady_clock::now() < end) {
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace e2e
