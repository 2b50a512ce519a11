// The fork server's client: starts the server, sends it commands, learns their exits on
// the loop (see spawner.hpp; the wire format is in spawn_wire.hpp).
#include "engine/spawner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "engine/spawn_wire.hpp"

extern char** environ;

namespace ochre {

using namespace spawn_wire;

Spawner::Spawner(uv_loop_t* loop, std::string helper) : loop_(loop), helper_(std::move(helper)) {}

Spawner::~Spawner() { stop(); }

// Starts the server; false with errno set when it cannot.
bool Spawner::start() {
  int req[2], ev[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) != 0) return false;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ev) != 0) {
    int e = errno;
    close(req[0]);
    close(req[1]);
    errno = e;
    return false;
  }
  // The server's ends, moved above 4 so that neither dup2 below overwrites the other.
  int their_req = fcntl(req[1], F_DUPFD_CLOEXEC, 10);
  int their_ev = fcntl(ev[1], F_DUPFD_CLOEXEC, 10);
  close(req[1]);
  close(ev[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, their_req, kRequestFd);
  posix_spawn_file_actions_adddup2(&fa, their_ev, kEventFd);
  // A session of its own: the terminal's Ctrl-C reaches ochre, which decides.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string mode = "__spawn-server", parent = std::to_string(getpid());
  char* argv[] = {helper_.data(), mode.data(), parent.data(), nullptr};
  pid_t pid = -1;
  int rc = (their_req < 0 || their_ev < 0) ? EMFILE : posix_spawn(&pid, helper_.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (their_req >= 0) close(their_req);
  if (their_ev >= 0) close(their_ev);
  if (rc != 0) {
    close(req[0]);
    close(ev[0]);
    errno = rc;
    return false;
  }
  if (stat(".", &server_dir_) != 0) server_dir_ = {};  // (then never taken for ours)
  server_pid_ = pid;
  request_fd_ = req[0];
  event_fd_ = ev[0];
  ++generation_;
  poll_ = new uv_poll_t;
  uv_poll_init(loop_, poll_, event_fd_);
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* p, int, int) { static_cast<Spawner*>(p->data)->on_events(); });
  watching_changed();
  return true;
}

// Closes the server's sockets: it kills the commands still alive and exits.
void Spawner::stop() {
  if (server_pid_ < 0) return;
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll_ = nullptr;
  close(request_fd_);
  close(event_fd_);
  request_fd_ = event_fd_ = -1;
  events_.clear();
  while (waitpid(server_pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  server_pid_ = -1;
}

namespace {

// What would keep a command from starting, found before the server forks so that
// ochre.sh fails as it did when commands started from ochre: a directory that is not
// there, or a command line over execve's limits. Opens the command's directory (ochre's
// own when `cwd` is empty) into `dir`; returns 0 or -errno.
int preflight(const Spawner::Command& c, const struct stat* server_dir, int& dir) {
  // In ochre's own directory, still the one the server started in: the server's own.
  struct stat here;
  bool servers = c.cwd.empty() && server_dir && stat(".", &here) == 0 && here.st_dev == server_dir->st_dev &&
                 here.st_ino == server_dir->st_ino;
  dir = servers ? -1 : open(c.cwd.empty() ? "." : c.cwd.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 && !c.cwd.empty()) return -errno;  // (ochre's own, deleted: the server's then)
  if (!c.cwd.empty() && access(c.cwd.c_str(), X_OK) != 0) {
    int e = errno;
    close(dir);
    dir = -1;
    return -e;
  }
  // Each string at most 32 pages; all of them, with their pointers, within ARG_MAX.
  size_t most = 32 * static_cast<size_t>(sysconf(_SC_PAGESIZE)), total = 0;
  size_t limit = std::min<size_t>(6 << 20, static_cast<size_t>(sysconf(_SC_ARG_MAX)));
  bool too_long = false;
  auto add = [&](const char* s) {
    size_t n = std::strlen(s) + 1;
    too_long = too_long || n > most;
    total += n + sizeof(char*);
  };
  add("sh");
  add("-c");
  add(c.cmd.c_str());
  for (const auto& e : c.env) add(e.c_str());
  if (too_long || total > limit) {
    if (dir >= 0) close(dir);
    dir = -1;
    return -E2BIG;
  }
  return 0;
}

}  // namespace

int Spawner::send_request(const Command& c, int dir) {
  std::string strings;
  strings.append(c.cmd.c_str()).push_back('\0');
  for (const auto& e : c.env) strings.append(e.c_str()).push_back('\0');
  RequestHead head{static_cast<uint32_t>(strings.size()), (c.in >= 0 ? kStdin : 0) | (dir >= 0 ? kDir : 0)};

  int fds[4] = {c.out, c.err};
  size_t nfds = 2;
  if (c.in >= 0) fds[nfds++] = c.in;
  if (dir >= 0) fds[nfds++] = dir;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  iovec iov[2] = {{&head, sizeof head}, {strings.data(), strings.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
  std::memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
  ssize_t n;
  while ((n = sendmsg(request_fd_, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) return -errno;
  // A stream socket may take a long request in parts; the fds went with the first.
  size_t sent = static_cast<size_t>(n), total = sizeof head + strings.size();
  while (sent < total) {
    const char* from = sent < sizeof head ? reinterpret_cast<const char*>(&head) + sent
                                          : strings.data() + (sent - sizeof head);
    size_t len = sent < sizeof head ? sizeof head - sent : total - sent;
    n = send(request_fd_, from, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    sent += static_cast<size_t>(n);
  }
  return 0;
}

int Spawner::spawn(const Command& command, Exited exited) {
  int dir = -1;
  int rc = preflight(command, server_pid_ >= 0 ? &server_dir_ : nullptr, dir);
  if (rc == 0 && server_pid_ < 0 && !start()) rc = -errno;
  if (rc == 0) rc = send_request(command, dir);
  if (rc == -EPIPE || rc == -ECONNRESET) {  // the server died since the last command: anew
    server_gone();
    rc = start() ? send_request(command, dir) : -errno;
  }
  if (dir >= 0) close(dir);
  if (rc < 0) return rc;
  Reply reply{};
  ssize_t n;
  while ((n = recv(request_fd_, &reply, sizeof reply, MSG_WAITALL)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof reply)) {
    server_gone();
    return -EPIPE;
  }
  if (reply.pid > 0) {
    running_[reply.pid] = std::move(exited);
    watching_changed();
  }
  return reply.pid;
}

void Spawner::kill(int pid) {
  if (request_fd_ >= 0 && running_.count(pid)) {
    RequestHead head{static_cast<uint32_t>(pid), kKill};
    Reply reply{};
    ssize_t n;
    while ((n = send(request_fd_, &head, sizeof head, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof head)) {
      while ((n = recv(request_fd_, &reply, sizeof reply, MSG_WAITALL)) < 0 && errno == EINTR) {
      }
    }
  }
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // it may not lead its group yet
}

void Spawner::forget(int pid) {
  if (running_.erase(pid)) watching_changed();
}

void Spawner::on_events() {
  unsigned generation = generation_;
  bool gone = false;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(event_fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      events_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    gone = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    break;
  }
  size_t count = events_.size() / sizeof(Exit);
  std::vector<Exit> exits(count);
  if (count) std::memcpy(exits.data(), events_.data(), count * sizeof(Exit));
  events_.erase(0, count * sizeof(Exit));
  // A callback may resume a hook, which may start the next command.
  for (const Exit& e : exits) {
    auto it = running_.find(e.pid);
    if (it == running_.end()) continue;
    Exited done = std::move(it->second);
    running_.erase(it);
    watching_changed();
    int64_t code = WIFEXITED(e.status) ? WEXITSTATUS(e.status) : 0;
    int signal = WIFSIGNALED(e.status) ? WTERMSIG(e.status) : 0;
    done(code, signal);
  }
  if (gone && generation == generation_) server_gone();
}

// The server died (killed by someone, or its thread of ochre ended): its commands can no
// longer be followed, so they are killed and reported so. The next command starts a new one.
void Spawner::server_gone() {
  stop();
  auto running = std::move(running_);
  running_.clear();
  for (auto& [pid, done] : running) {
    ::kill(-pid, SIGKILL);
    done(0, SIGKILL);
  }
}

// The loop waits for the server only while a command's exit is still to come.
void Spawner::watching_changed() {
  if (!poll_) return;
  if (running_.empty()) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  else uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
}

}  // namespace ochre
