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

Spawner::~Spawner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop();
  }
  if (later_) uv_close(reinterpret_cast<uv_handle_t*>(later_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

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
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));  // until a command is on its way
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
  // (ARG_MAX follows the stack limit; the one that counts is the server's, ochre's when
  // the server started: read once, not with a system call a command.)
  static const size_t most = 32 * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  static const size_t limit = std::min<size_t>(6 << 20, static_cast<size_t>(sysconf(_SC_ARG_MAX)));
  size_t total = 0;
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

// A request as it goes to the server; owns the fds it carries until they are sent.
struct Spawner::Request {
  int64_t ticket = 0;
  RequestHead head{};
  std::string strings;
  int fds[4] = {-1, -1, -1, -1};
  size_t nfds = 0;
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() { close_fds(); }
  void close_fds() {
    for (size_t i = 0; i < nfds; ++i)
      if (fds[i] >= 0) ::close(fds[i]);
    nfds = 0;
  }
};

// Sends `r` (with mu_ held); then its fds are closed. 0 or -errno (the fds kept, to send again).
int Spawner::send(Request& r) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof r.fds)] = {};
  iovec iov[2] = {{&r.head, sizeof r.head}, {r.strings.data(), r.strings.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(r.nfds * sizeof(int));
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(r.nfds * sizeof(int));
  std::memcpy(CMSG_DATA(cm), r.fds, r.nfds * sizeof(int));
  ssize_t n;
  while ((n = sendmsg(request_fd_, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) return -errno;
  r.close_fds();  // the server has its own now
  // A stream socket may take a long request in parts; the fds went with the first.
  size_t sent = static_cast<size_t>(n), total = sizeof r.head + r.strings.size();
  while (sent < total) {
    const char* from = sent < sizeof r.head ? reinterpret_cast<const char*>(&r.head) + sent
                                            : r.strings.data() + (sent - sizeof r.head);
    size_t len = sent < sizeof r.head ? sizeof r.head - sent : total - sent;
    n = ::send(request_fd_, from, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    sent += static_cast<size_t>(n);
  }
  unanswered_.push_back(r.ticket);
  return 0;
}

// Sends `r`, starting the server first when there is none, or again when it died since
// the last command.
int Spawner::send_or_restart(Request& r) {
  int rc;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (server_pid_ < 0 && !start()) return -errno;
    rc = send(r);
  }
  if (rc == -EPIPE || rc == -ECONNRESET) {
    server_gone();
    std::lock_guard<std::mutex> lock(mu_);
    rc = start() ? send(r) : -errno;
  }
  return rc;
}

int64_t Spawner::spawn(const Command& command, Started started, Exited exited) {
  auto r = std::make_unique<Request>();
  int dir = -1;
  int rc = preflight(command, server_pid_ >= 0 ? &server_dir_ : nullptr, dir);
  r->fds[r->nfds++] = command.out;
  r->fds[r->nfds++] = command.err;
  if (command.in >= 0) r->fds[r->nfds++] = command.in;
  if (dir >= 0) r->fds[r->nfds++] = dir;
  if (rc == 0 && server_pid_ < 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!start()) rc = -errno;
  }
  if (rc < 0) return rc;
  r->strings.append(command.cmd.c_str()).push_back('\0');
  for (const auto& e : command.env) r->strings.append(e.c_str()).push_back('\0');
  r->head = {static_cast<uint32_t>(r->strings.size()), (command.in >= 0 ? kStdin : 0) | (dir >= 0 ? kDir : 0)};
  r->ticket = next_ticket_++;
  if (!holding_ && (rc = send_or_restart(*r)) < 0) return rc;
  entries_[r->ticket] = Entry{0, false, std::move(started), std::move(exited)};
  int64_t ticket = r->ticket;
  if (holding_) {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(std::move(r));
  }
  watching_changed();
  return ticket;
}

void Spawner::seal() {
  std::lock_guard<std::mutex> lock(mu_);
  sealed_ = held_.size();
}

void Spawner::send_sealed() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t sent = 0;
  while (sent < sealed_ && request_fd_ >= 0 && send(*held_[sent]) == 0) ++sent;
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(sent));
  sealed_ -= sent;
}

void Spawner::hold(bool on) {
  holding_ = on;
  if (on) return;
  std::vector<std::unique_ptr<Request>> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = std::move(held_);
    held_.clear();
    sealed_ = 0;
  }
  for (auto& r : held) {
    auto it = entries_.find(r->ticket);
    if (it == entries_.end()) continue;
    if (!it->second.started && !it->second.exited) {  // forgotten before it was sent
      entries_.erase(it);
      continue;
    }
    int rc = send_or_restart(*r);
    if (rc < 0) failed_later(r->ticket, rc);
  }
  watching_changed();
}

// A start that failed once spawn() had returned is reported from the loop: the caller
// may be in the middle of something.
void Spawner::failed_later(int64_t ticket, int error) {
  failures_.emplace_back(ticket, error);
  if (!later_) {
    later_ = new uv_timer_t;
    uv_timer_init(loop_, later_);
    later_->data = this;
  }
  uv_timer_start(later_, [](uv_timer_t* t) {
    auto* self = static_cast<Spawner*>(t->data);
    auto failures = std::move(self->failures_);
    self->failures_.clear();
    for (auto [ticket, error] : failures) {
      auto it = self->entries_.find(ticket);
      if (it == self->entries_.end()) continue;
      Started started = std::move(it->second.started);
      self->entries_.erase(it);
      if (started) started(error);
    }
    self->watching_changed();
  }, 0, 0);
}

void Spawner::kill(int64_t ticket) {
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return;
  int pid = it->second.pid;
  if (pid <= 0) {
    it->second.kill_asked = true;
    return;
  }
  RequestHead head{static_cast<uint32_t>(pid), kKill};
  ssize_t n = -1;
  std::lock_guard<std::mutex> lock(mu_);
  if (request_fd_ >= 0) {
    while ((n = ::send(request_fd_, &head, sizeof head, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
  }
  if (n != static_cast<ssize_t>(sizeof head)) {  // no server to do it
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);  // it may not lead its group yet
  }
}

void Spawner::forget(int64_t ticket) {
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return;
  // Kept until its exit (or start failure) is known, so a kill asked before its pid
  // still reaches it; only the calls are dropped.
  it->second.started = nullptr;
  it->second.exited = nullptr;
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
  size_t count = events_.size() / sizeof(Event);
  std::vector<Event> events(count);
  if (count) std::memcpy(events.data(), events_.data(), count * sizeof(Event));
  events_.erase(0, count * sizeof(Event));
  // A call may resume a hook, which may start the next command (or end the server).
  for (const Event& e : events) {
    if (generation != generation_) break;
    event(e.kind, e.pid, e.status);
  }
  watching_changed();
  if (gone && generation == generation_) server_gone();
}

void Spawner::event(int32_t kind, int pid, int status) {
  if (kind == kStarted) {
    int64_t ticket;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (unanswered_.empty()) return;
      ticket = unanswered_.front();
      unanswered_.pop_front();
    }
    auto it = entries_.find(ticket);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    if (pid <= 0) {
      Started started = std::move(e.started);
      entries_.erase(it);
      if (started) started(pid);
      return;
    }
    e.pid = pid;
    by_pid_[pid] = ticket;
    if (e.kill_asked) kill(ticket);
    Started started = std::move(e.started);
    if (started) started(pid);
    return;
  }
  auto at = by_pid_.find(pid);
  if (at == by_pid_.end()) return;
  auto it = entries_.find(at->second);
  by_pid_.erase(at);
  if (it == entries_.end()) return;
  Exited done = std::move(it->second.exited);
  entries_.erase(it);
  int64_t code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  int signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  if (done) done(code, signal);
}

// The server died (killed by someone, or its thread of ochre ended): its commands can no
// longer be followed, so they are killed and reported so. The next command starts a new
// one; commands still held go to it.
void Spawner::server_gone() {
  std::deque<int64_t> unanswered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop();
    unanswered = std::move(unanswered_);
    unanswered_.clear();
  }
  std::vector<Exited> gone;
  for (int64_t ticket : unanswered) {
    auto it = entries_.find(ticket);
    if (it == entries_.end()) continue;
    gone.push_back(std::move(it->second.exited));
    entries_.erase(it);
  }
  for (auto [pid, ticket] : by_pid_) {
    ::kill(-pid, SIGKILL);
    auto it = entries_.find(ticket);
    if (it == entries_.end()) continue;
    gone.push_back(std::move(it->second.exited));
    entries_.erase(it);
  }
  by_pid_.clear();
  for (auto& done : gone)
    if (done) done(0, SIGKILL);
}

// The loop waits for the server only while a command's start or exit is still to come.
void Spawner::watching_changed() {
  if (!poll_) return;
  bool waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting = !unanswered_.empty();
  }
  if (!waiting && by_pid_.empty()) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  else uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
}

}  // namespace ochre
