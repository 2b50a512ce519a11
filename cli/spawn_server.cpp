// `ochre-spawn __spawn-server PARENT_PID` (or `ochre __spawn-server`): the fork server
// through which ochre runs hook commands (engine/spawner.hpp; wire format in
// engine/spawn_wire.hpp). It is small, so forking it is cheap; each command runs as
// `/bin/sh -c CMD` leading a session of its own. It asks the kernel for SIGTERM when
// ochre dies, even by kill -9, and then kills the group of every command still running
// (it is their parent: no pid it kills can have been reused). It does the same when ochre
// closes its socket.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "cli/spawn.hpp"
#include "engine/spawn_wire.hpp"

namespace ochre::cli {

namespace {

using namespace spawn_wire;

class Server {
 public:
  // Serves one request; false when ochre closed the socket.
  bool serve_request();
  // Collects the commands that ended and tells ochre.
  void reap();
  // Sends what ochre has not taken yet; never blocks, so ochre never waits on us.
  void flush();
  bool flushing() const { return !outbox_.empty(); }
  // A command killed before its setsid is not a group yet: both kills, then.
  void kill_all() {
    for (pid_t pid : live_) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
  }

 private:
  std::unordered_set<pid_t> live_;
  std::string outbox_;
};

bool read_all(int fd, char* to, size_t len) {
  while (len > 0) {
    ssize_t n = recv(fd, to, len, MSG_WAITALL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    to += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Forks `/bin/sh -c cmd`, leading a session of its own; returns its pid or -errno. The
// server is small, so the fork is cheap; it returns without waiting for the exec (ochre
// checked the directory and the sizes), so ochre and the new command go on at once.
pid_t start_command(char* cmd, int in, int out, int err, int dir, char** envp) {
  pid_t pid = fork();
  if (pid != 0) return pid > 0 ? pid : -errno;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGPIPE, SIGCHLD}) signal(sig, SIG_DFL);
  setsid();
  // The server's fd 0 is /dev/null already; the received fds close on exec.
  if ((in >= 0 && dup2(in, 0) < 0) || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
  if (dir >= 0 && fchdir(dir) != 0) _exit(127);
  char sh[] = "sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, cmd, nullptr};
  execve("/bin/sh", argv, envp);
  _exit(127);
}

bool Server::serve_request() {
  RequestHead head{};
  int fds[4] = {-1, -1, -1, -1};
  size_t nfds = 0;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)];
  iovec iov{&head, sizeof head};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(kRequestFd, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return false;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      if (nfds < 4) fds[nfds++] = fd;
      else close(fd);
    }
  }
  std::string strings;
  bool ok = static_cast<size_t>(n) == sizeof head ||
            read_all(kRequestFd, reinterpret_cast<char*>(&head) + n, sizeof head - static_cast<size_t>(n));
  if (ok) {
    strings.resize(head.size);
    ok = read_all(kRequestFd, strings.data(), strings.size());
  }
  if (!ok) {
    for (size_t i = 0; i < nfds; ++i) close(fds[i]);
    return false;
  }

  // The command, then its environment: each ended by a NUL.
  std::vector<char*> parts;
  for (size_t at = 0; at < strings.size(); at += std::strlen(strings.data() + at) + 1)
    parts.push_back(strings.data() + at);
  bool has_stdin = head.flags & kStdin, has_dir = head.flags & kDir;
  Reply reply{-EINVAL};
  if (!parts.empty() && nfds == 2u + has_stdin + has_dir) {
    std::vector<char*> envp(parts.begin() + 1, parts.end());
    envp.push_back(nullptr);
    reply.pid = start_command(parts[0], has_stdin ? fds[2] : -1, fds[0], fds[1], has_dir ? fds[nfds - 1] : -1,
                              envp.data());
  }
  for (size_t i = 0; i < nfds; ++i) close(fds[i]);
  if (reply.pid > 0) live_.insert(reply.pid);
  const char* p = reinterpret_cast<const char*>(&reply);
  size_t left = sizeof reply;
  while (left > 0) {
    n = send(kRequestFd, p, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

void Server::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (!live_.erase(pid)) continue;
    Exit e{pid, status};
    outbox_.append(reinterpret_cast<const char*>(&e), sizeof e);
  }
  flush();
}

void Server::flush() {
  while (!outbox_.empty()) {
    ssize_t n = send(kEventFd, outbox_.data(), outbox_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // on POLLOUT
    if (n < 0) {  // ochre is gone: its request socket says so too
      outbox_.clear();
      return;
    }
    outbox_.erase(0, static_cast<size_t>(n));
  }
}

}  // namespace

int spawn_server_main(int argc, char** argv) {
  if (argc < 3) return 127;
  // Signals arrive as reads, between requests: a SIGTERM while a command starts is seen
  // once it is known, and killed with the rest.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int sig : {SIGCHLD, SIGTERM, SIGHUP, SIGINT}) sigaddset(&sigs, sig);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 127;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // ochre may have died before the line above: then nobody is left to wait for us.
  if (getppid() != static_cast<pid_t>(std::atol(argv[2]))) return 137;
  fcntl(kRequestFd, F_SETFD, FD_CLOEXEC);
  fcntl(kEventFd, F_SETFD, FD_CLOEXEC);

  Server server;
  for (;;) {
    pollfd p[3] = {{kRequestFd, POLLIN, 0}, {sfd, POLLIN, 0},
                   {kEventFd, static_cast<short>(server.flushing() ? POLLOUT : 0), 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      server.kill_all();
      return 127;
    }
    if (p[1].revents) {
      bool children = false;
      signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo != SIGCHLD) {
          server.kill_all();
          return 137;
        }
        children = true;
      }
      if (children) server.reap();
    }
    if (p[2].revents & (POLLERR | POLLHUP)) {  // ochre closed its end
      server.kill_all();
      return 0;
    }
    if (p[2].revents) server.flush();
    if (p[0].revents && !server.serve_request()) {
      server.kill_all();
      return 0;
    }
  }
}

}  // namespace ochre::cli
