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

// A server's event socket on the loop, and whose it is.
struct Spawner::Watch {
  uv_poll_t poll;
  Spawner* spawner;
  size_t server;
};

Spawner::Spawner(uv_loop_t* loop, std::string helper, unsigned servers)
    : loop_(loop), helper_(std::move(helper)),
      servers_(servers ? servers : std::clamp(std::thread::hardware_concurrency(), 1u, 4u)) {}

Spawner::~Spawner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < servers_.size(); ++i) stop(i);
  }
  if (later_) uv_close(reinterpret_cast<uv_handle_t*>(later_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

// Starts server `i`; false with errno set when it cannot.
bool Spawner::start(size_t i) {
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
  Server& s = servers_[i];
  if (stat(".", &s.dir) != 0) s.dir = {};  // (then never taken for ours)
  s.pid = pid;
  s.request_fd = req[0];
  s.event_fd = ev[0];
  ++s.generation;
  auto* watch = new Watch{{}, this, i};
  s.poll = &watch->poll;
  uv_poll_init(loop_, s.poll, s.event_fd);
  s.poll->data = watch;
  uv_poll_start(s.poll, UV_READABLE, [](uv_poll_t* p, int, int) {
    auto* w = static_cast<Watch*>(p->data);
    w->spawner->on_events(w->server);
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(s.poll));  // until a command is on its way
  return true;
}

// Closes server `i`'s sockets: it kills the commands still alive and exits.
void Spawner::stop(size_t i) {
  Server& s = servers_[i];
  if (s.pid < 0) return;
  uv_close(reinterpret_cast<uv_handle_t*>(s.poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
  s.poll = nullptr;
  close(s.request_fd);
  close(s.event_fd);
  s.request_fd = s.event_fd = -1;
  s.events.clear();
  while (waitpid(s.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  s.pid = -1;
}

// The directory every running server runs in, when they agree (else null: a command
// then takes its directory along).
const struct stat* Spawner::servers_dir() const {
  const struct stat* dir = nullptr;
  for (const Server& s : servers_) {
    if (s.pid < 0) continue;
    if (dir && (dir->st_dev != s.dir.st_dev || dir->st_ino != s.dir.st_ino)) return nullptr;
    dir = &s.dir;
  }
  return dir;
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

// Sends `r` to server `i` (with mu_ held); then its fds are closed. 0 or -errno (the fds
// kept, to send again).
int Spawner::send(Request& r, size_t i) {
  Server& s = servers_[i];
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
  while ((n = sendmsg(s.request_fd, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n < 0) return -errno;
  r.close_fds();  // the server has its own now
  // A stream socket may take a long request in parts; the fds went with the first.
  size_t sent = static_cast<size_t>(n), total = sizeof r.head + r.strings.size();
  while (sent < total) {
    const char* from = sent < sizeof r.head ? reinterpret_cast<const char*>(&r.head) + sent
                                            : r.strings.data() + (sent - sizeof r.head);
    size_t len = sent < sizeof r.head ? sizeof r.head - sent : total - sent;
    n = ::send(s.request_fd, from, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    sent += static_cast<size_t>(n);
  }
  s.unanswered.push_back(r.ticket);
  return 0;
}

// The server for the next request (with mu_ held): the running one with the fewest
// requests not answered yet; while each running one has some, one not running yet, when
// `may_start`. servers_.size() when none runs and none may start.
size_t Spawner::pick(bool may_start) const {
  size_t none = servers_.size(), best = none, stopped = none;
  for (size_t i = 0; i < servers_.size(); ++i) {
    const Server& s = servers_[i];
    if (s.pid < 0) {
      if (stopped == none) stopped = i;
    } else if (best == none || s.unanswered.size() < servers_[best].unanswered.size()) {
      best = i;
    }
  }
  if (may_start && stopped != none && (best == none || !servers_[best].unanswered.empty())) return stopped;
  return best;
}

// Sends `r`, starting a server first when none is free, or again when it died since its
// last command.
int Spawner::send_or_restart(Request& r) {
  int rc;
  size_t i;
  {
    std::lock_guard<std::mutex> lock(mu_);
    i = pick(true);
    if (servers_[i].pid < 0 && !start(i)) {
      int e = errno;
      i = pick(false);  // one already running takes it, if any
      if (i == servers_.size()) return -e;
    }
    rc = send(r, i);
  }
  if (rc == -EPIPE || rc == -ECONNRESET) {
    server_gone(i);
    std::lock_guard<std::mutex> lock(mu_);
    rc = start(i) ? send(r, i) : -errno;
  }
  return rc;
}

int64_t Spawner::spawn(const Command& command, Started started, Exited exited) {
  auto r = std::make_unique<Request>();
  int dir = -1;
  int rc = preflight(command, servers_dir(), dir);
  r->fds[r->nfds++] = command.out;
  r->fds[r->nfds++] = command.err;
  if (command.in >= 0) r->fds[r->nfds++] = command.in;
  if (dir >= 0) r->fds[r->nfds++] = dir;
  if (rc == 0) {  // with none running, one starts now, or says why it cannot
    std::lock_guard<std::mutex> lock(mu_);
    if (pick(false) == servers_.size() && !start(0)) rc = -errno;
  }
  if (rc < 0) return rc;
  r->strings.append(command.cmd.c_str()).push_back('\0');
  for (const auto& e : command.env) r->strings.append(e.c_str()).push_back('\0');
  r->head = {static_cast<uint32_t>(r->strings.size()), (command.in >= 0 ? kStdin : 0) | (dir >= 0 ? kDir : 0)};
  r->ticket = next_ticket_++;
  if (!holding_ && (rc = send_or_restart(*r)) < 0) return rc;
  entries_[r->ticket] = Entry{0, -1, false, std::move(started), std::move(exited)};
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
  for (size_t i; sent < sealed_ && (i = pick(false)) < servers_.size() && send(*held_[sent], i) == 0;) ++sent;
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
  int fd = servers_[static_cast<size_t>(it->second.server)].request_fd;
  if (fd >= 0) {
    while ((n = ::send(fd, &head, sizeof head, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
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

void Spawner::on_events(size_t i) {
  Server& s = servers_[i];
  unsigned generation = s.generation;
  bool gone = false;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(s.event_fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      s.events.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    gone = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    break;
  }
  size_t count = s.events.size() / sizeof(Event);
  std::vector<Event> events(count);
  if (count) std::memcpy(events.data(), s.events.data(), count * sizeof(Event));
  s.events.erase(0, count * sizeof(Event));
  // A call may resume a hook, which may start the next command (or end the server).
  for (const Event& e : events) {
    if (generation != s.generation) break;
    event(i, e.kind, e.pid, e.status);
  }
  watching_changed();
  if (gone && generation == s.generation) server_gone(i);
}

void Spawner::event(size_t i, int32_t kind, int pid, int status) {
  if (kind == kStarted) {
    int64_t ticket;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::deque<int64_t>& unanswered = servers_[i].unanswered;
      if (unanswered.empty()) return;
      ticket = unanswered.front();
      unanswered.pop_front();
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
    e.server = static_cast<int>(i);
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

// A server died (killed by someone, or its thread of ochre ended): its commands can no
// longer be followed, so they are killed and reported so. Its next command starts it
// again; commands still held go to the servers then running.
void Spawner::server_gone(size_t i) {
  std::deque<int64_t> unanswered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop(i);
    unanswered = std::move(servers_[i].unanswered);
    servers_[i].unanswered.clear();
  }
  std::vector<Exited> gone;
  for (int64_t ticket : unanswered) {
    auto it = entries_.find(ticket);
    if (it == entries_.end()) continue;
    gone.push_back(std::move(it->second.exited));
    entries_.erase(it);
  }
  for (auto at = by_pid_.begin(); at != by_pid_.end();) {
    auto it = entries_.find(at->second);
    if (it == entries_.end() || it->second.server != static_cast<int>(i)) {
      ++at;
      continue;
    }
    ::kill(-at->first, SIGKILL);
    gone.push_back(std::move(it->second.exited));
    entries_.erase(it);
    at = by_pid_.erase(at);
  }
  for (auto& done : gone)
    if (done) done(0, SIGKILL);
}

// The loop waits for the servers only while a command's start or exit is still to come.
void Spawner::watching_changed() {
  bool waiting = !by_pid_.empty();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Server& s : servers_) waiting = waiting || !s.unanswered.empty();
  }
  for (const Server& s : servers_) {
    if (!s.poll) continue;
    if (waiting) uv_ref(reinterpret_cast<uv_handle_t*>(s.poll));
    else uv_unref(reinterpret_cast<uv_handle_t*>(s.poll));
  }
}

}  // namespace ochre
