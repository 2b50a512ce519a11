// `ochre-spawn __spawn-server PARENT_PID` (or `ochre __spawn-server`): the fork server
// through which ochre runs hook commands (engine/spawner.hpp; wire format in
// engine/spawn_wire.hpp). It starts each command with vfork, as `/bin/sh -c CMD` or as
// its words when the shell would only run them, leading a session of its own; ochre
// never waits for it: starts and exits go back as events. It asks the kernel for SIGTERM when
// ochre dies, even by kill -9, and then kills the group of every command still running
// (it is their parent: no pid it kills can have been reused). It does the same when ochre
// closes its socket.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/direct_command.hpp"
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
  // Queues an event for ochre (flush() sends it).
  void tell(const Event& e) { outbox_.append(reinterpret_cast<const char*>(&e), sizeof e); }
  // Sends what ochre has not taken yet; never blocks, so ochre never waits on us.
  void flush();
  bool flushing() const { return !outbox_.empty(); }
  // A command killed before its setsid is not a group yet: both kills, then.
  void kill_all() {
    for (auto& [pid, c] : live_) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
  }
  // The fds of the notes still to write, to poll for POLLOUT; then writes what they can.
  void add_notes(std::vector<pollfd>& p) const {
    for (const Note& n : notes_) p.push_back({n.fd, POLLOUT, 0});
  }
  void write_notes();

 private:
  bool kill_request(uint32_t size);

  struct Command {
    int err = -1;  // a direct command's stderr, kept for what the shell would have said
    bool killed = false;  // by ochre: then as the shell, killed with it, it says nothing
  };
  std::unordered_map<pid_t, Command> live_;
  // What the shell would have written to the stderr of a direct command that a signal
  // ended, not sent yet (ochre was not reading); the fd closes once it is.
  struct Note {
    int fd;
    std::string text;
  };
  std::vector<Note> notes_;
  std::string outbox_;
  bool dash_ = sh_is_dash();
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

// What a command's child needs, all made before it is cloned: the child only makes
// system calls until it execs (it shares the server's memory meanwhile).
struct Launch {
  char* cmd;
  int in, out, err, dir;
  char** envp;               // as ochre gave it, for /bin/sh
  char** argv = nullptr;     // the program's words, when it runs without the shell
  char** direct_envp = nullptr;
  size_t pwd_slot = 0;       // PWD's entry in direct_envp, filled by the child
  const char* env_pwd = nullptr;
  const char* path = nullptr;  // where to look for argv[0]
};

// The child: the command leads a session of its own, on the fds and in the directory it
// was given, and runs; a program that does not start (missing, not executable, a script
// without #!, ...) runs through `/bin/sh -c` instead, which then fails or runs it as it
// would have from the start.
[[noreturn]] void run_child(Launch& l) {
  sigset_t none;
  sigemptyset(&none);
  for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGPIPE, SIGCHLD}) signal(sig, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setsid();
  // The server's fd 0 is /dev/null already; the received fds close on exec.
  if ((l.in >= 0 && dup2(l.in, 0) < 0) || dup2(l.out, 1) < 0 || dup2(l.err, 2) < 0) _exit(127);
  if (l.dir >= 0 && fchdir(l.dir) != 0) _exit(127);
  char pwd[PATH_MAX + 8];
  if (l.argv) {
    // dash keeps the environment's PWD when it names this directory, else asks getcwd.
    struct stat a, b;
    bool keep = l.env_pwd && l.env_pwd[0] == '/' && stat(l.env_pwd, &a) == 0 && stat(".", &b) == 0 &&
                a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    std::memcpy(pwd, "PWD=", 4);
    if (keep) l.direct_envp[l.pwd_slot] = const_cast<char*>(l.env_pwd) - 4;
    else if (getcwd(pwd + 4, PATH_MAX)) l.direct_envp[l.pwd_slot] = pwd;
    else l.argv = nullptr;
  }
  if (l.argv && std::strchr(l.argv[0], '/')) {
    execve(l.argv[0], l.argv, l.direct_envp);
  } else if (l.argv) {
    char file[PATH_MAX + 8];
    size_t name = std::strlen(l.argv[0]);
    for (const char* at = l.path;; ++at) {
      const char* end = std::strchr(at, ':');
      size_t len = end ? static_cast<size_t>(end - at) : std::strlen(at);
      if (len + name + 2 <= sizeof file) {  // as dash: "" is the directory itself
        size_t k = 0;
        if (len) {
          std::memcpy(file, at, len);
          file[len] = '/';
          k = len + 1;
        }
        std::memcpy(file + k, l.argv[0], name + 1);
        execve(file, l.argv, l.direct_envp);
        if (errno == ENOEXEC) break;  // dash runs it as a script: the shell below does
      }
      if (!end) break;
      at = end;
    }
  }
  char sh[] = "sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, l.cmd, nullptr};
  execve("/bin/sh", argv, l.envp);
  _exit(127);
}

// Starts a command (see run_child); returns its pid or -errno. vfork: the child shares
// the server's memory until it execs (no page tables copied, as posix_spawn does), and
// the server waits for that exec: ochre does not, it never waits for an answer.
pid_t start_command(Launch& l) {
  pid_t pid = vfork();
  if (pid == 0) run_child(l);
  return pid > 0 ? pid : -errno;
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
  if (ok && !(head.flags & kKill)) {
    strings.resize(head.size);
    ok = read_all(kRequestFd, strings.data(), strings.size());
  }
  if (!ok || (head.flags & kKill)) {
    for (size_t i = 0; i < nfds; ++i) close(fds[i]);
    return ok && kill_request(head.size);
  }

  // The command, then its environment: each ended by a NUL.
  std::vector<char*> parts;
  for (size_t at = 0; at < strings.size(); at += std::strlen(strings.data() + at) + 1)
    parts.push_back(strings.data() + at);
  bool has_stdin = head.flags & kStdin, has_dir = head.flags & kDir;
  pid_t pid = -EINVAL;
  Command command;
  if (!parts.empty() && nfds == 2u + has_stdin + has_dir) {
    std::vector<char*> envp(parts.begin() + 1, parts.end());
    Launch l{parts[0], has_stdin ? fds[2] : -1, fds[0], fds[1], has_dir ? fds[nfds - 1] : -1, nullptr};
    std::vector<std::string> words;
    std::vector<char*> argv, direct_envp;
    std::string path;
    if (dash_ && split_simple_command(parts[0], words) &&
        dash_environment(envp, direct_envp, l.pwd_slot, l.env_pwd, path)) {
      for (auto& w : words) argv.push_back(w.data());
      argv.push_back(nullptr);
      l.argv = argv.data();
      l.direct_envp = direct_envp.data();
      l.path = path.c_str();
    }
    envp.push_back(nullptr);
    l.envp = envp.data();
    pid = start_command(l);
    if (pid > 0 && l.argv) command.err = fds[1], fds[1] = -1;
  }
  for (size_t i = 0; i < nfds; ++i)
    if (fds[i] >= 0) close(fds[i]);
  if (pid > 0) live_[pid] = command;
  else if (command.err >= 0) close(command.err);
  tell({kStarted, pid, 0});
  return true;
}

// `size` is the pid of a command ochre is about to kill (and kills here too): it then
// ends as the shell would, silently by a signal.
bool Server::kill_request(uint32_t size) {
  pid_t pid = static_cast<pid_t>(size);
  auto it = live_.find(pid);
  if (it != live_.end()) {
    it->second.killed = true;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
  return true;
}

void Server::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = live_.find(pid);
    if (it == live_.end()) continue;
    Command c = it->second;
    live_.erase(it);
    if (c.err >= 0 && WIFSIGNALED(status) && !c.killed) {
      // The shell, its child ended by a signal, says which (unless SIGINT or SIGPIPE) and
      // exits with 128 + its number (dash: jobs.c, sprint_status).
      int sig = WTERMSIG(status);
      if (sig != SIGINT && sig != SIGPIPE) {
        std::string text = strsignal(sig);
        if (WCOREDUMP(status)) text += " (core dumped)";
        notes_.push_back({c.err, text + "\n"});
        c.err = -1;
      }
      status = (128 + sig) << 8;
    }
    if (c.err >= 0) close(c.err);
    tell({kExited, pid, status});
  }
  flush();
}

// Notes go to the command's stderr, a pipe, when it has room: a write of a few bytes to
// a pipe that polls writable does not block.
void Server::write_notes() {
  for (size_t i = 0; i < notes_.size();) {
    Note& n = notes_[i];
    pollfd room{n.fd, POLLOUT, 0};
    if (poll(&room, 1, 0) == 0) {
      ++i;
      continue;
    }
    ssize_t k = (room.revents & POLLOUT) ? write(n.fd, n.text.data(), n.text.size()) : -1;
    if (k < 0 && (room.revents & POLLOUT) && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
      ++i;
      continue;
    }
    if (k > 0 && static_cast<size_t>(k) < n.text.size()) {
      n.text.erase(0, static_cast<size_t>(k));
      ++i;
      continue;
    }
    close(n.fd);  // written, or ochre no longer reads it
    notes_.erase(notes_.begin() + static_cast<std::ptrdiff_t>(i));
  }
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
  signal(SIGPIPE, SIG_IGN);  // a note to a command's stderr that ochre no longer reads
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // ochre may have died before the line above: then nobody is left to wait for us.
  if (getppid() != static_cast<pid_t>(std::atol(argv[2]))) return 137;
  fcntl(kRequestFd, F_SETFD, FD_CLOEXEC);
  fcntl(kEventFd, F_SETFD, FD_CLOEXEC);

  Server server;
  for (;;) {
    std::vector<pollfd> p = {{kRequestFd, POLLIN, 0}, {sfd, POLLIN, 0},
                             {kEventFd, static_cast<short>(server.flushing() ? POLLOUT : 0), 0}};
    server.add_notes(p);
    if (poll(p.data(), p.size(), -1) < 0) {
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
      if (children) {
        server.reap();
        server.write_notes();
      }
    }
    if (p[2].revents & (POLLERR | POLLHUP)) {  // ochre closed its end
      server.kill_all();
      return 0;
    }
    if (p[2].revents) server.flush();
    if (p.size() > 3) server.write_notes();
    // The requests ochre sent together are served together, and their starts told at once.
    for (bool more = p[0].revents != 0; more;) {
      if (!server.serve_request()) {
        server.kill_all();
        return 0;
      }
      pollfd again{kRequestFd, POLLIN, 0};
      more = poll(&again, 1, 0) > 0 && (again.revents & POLLIN);
    }
    server.flush();
  }
}

}  // namespace ochre::cli
