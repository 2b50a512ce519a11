// Starts hook commands through fork servers: small helper processes (`HELPER
// __spawn-server PARENT_PID`, cli/spawn_server.cpp) that ochre starts at its first
// command, and more (one per processor, up to 4) when commands come faster than one
// server starts them: a server's vfork waits while the command loads its program.
// Forking ochre itself copies its page tables, which grow with the pipeline; the
// helper is tiny, so a command costs one cheap spawn, and ochre sends requests
// without waiting for an answer (a run sends those of a turn together, once the starts
// of their jobs are committed: hold()). Each command leads a session
// (and process group) of its own; the helper is their parent, asks the kernel for
// SIGTERM when ochre dies (even by kill -9) and then kills every group still alive, so
// commands never outlive ochre.
#pragma once
#include <sys/stat.h>
#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ochre {

class Spawner {
 public:
  // `helper` is the program run as the server; starts and exits are reported on `loop`.
  // At most `servers` servers run at once (0: one per processor, up to 4).
  Spawner(uv_loop_t* loop, std::string helper, unsigned servers = 0);
  ~Spawner();  // closes the server's sockets (it then kills what is left) and reaps it
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  struct Command {
    const std::string& cmd;
    const std::vector<std::string>& env;  // NAME=VALUE
    const std::string& cwd;               // "" for ochre's own
    int in, out, err;                     // the command's ends, which the Spawner closes; `in` -1 for /dev/null
  };
  // The command's pid (also its process group once it runs), or -errno when it could not start.
  using Started = std::function<void(int pid)>;
  // (exit code, signal) as libuv's exit callback gives them.
  using Exited = std::function<void(int64_t code, int signal)>;

  // Starts `/bin/sh -c cmd` (or its words straight away, as the shell would run them).
  // Returns a ticket (> 0) for kill and forget, or a negative errno when the command
  // cannot start (no such directory, too long, no server). Nothing is waited for: from
  // the loop, `started` comes once the server forked it and, unless it did not start,
  // `exited` once it ended; neither after forget(ticket).
  int64_t spawn(const Command& command, Started started, Exited exited);
  void forget(int64_t ticket);
  // Kills the command's group (SIGKILL), by the server: a command it runs without the
  // shell then reports the signal as the shell killed with it would. One whose pid is
  // not known yet is killed as soon as it is.
  void kill(int64_t ticket);
  // While held, commands are not sent: hold(false) sends them all, in order. (The
  // scheduler holds them until the starts of the jobs they belong to are durable.)
  void hold(bool on);
  // The commands held so far may go once the next commit lands (their jobs' starts are
  // written); send_sealed(), which may be called from another thread, sends them.
  void seal();
  void send_sealed();
  // Whether no command is running or on its way.
  bool idle() const { return entries_.empty(); }

 private:
  struct Request;
  struct Watch;
  // One fork server: its process, its sockets, and the requests it has not answered.
  struct Server {
    int pid = -1;
    int request_fd = -1;
    int event_fd = -1;
    unsigned generation = 0;          // its starts so far
    struct stat dir {};               // the directory it runs in (ochre's when it started)
    uv_poll_t* poll = nullptr;        // on event_fd (in a Watch); freed when closed
    std::string events;               // bytes of an Event not whole yet
    std::deque<int64_t> unanswered;   // sent, not started yet, in order
  };
  bool start(size_t server);
  void stop(size_t server);
  int send(Request& r, size_t server);
  size_t pick(bool may_start) const;
  int send_or_restart(Request& r);
  void on_events(size_t server);
  void event(size_t server, int32_t kind, int pid, int status);
  void server_gone(size_t server);
  void failed_later(int64_t ticket, int error);
  void watching_changed();
  const struct stat* servers_dir() const;

  struct Entry {
    int pid = 0;  // 0 until started
    int server = -1;  // the one that started it
    bool kill_asked = false;
    Started started;
    Exited exited;
  };
  uv_loop_t* loop_;
  std::string helper_;
  // A server starts one command at a time (its vfork waits while the command loads its
  // program), so commands go to a few servers, one per processor up to 4, each started
  // when the others are all busy starting.
  std::vector<Server> servers_;
  uv_timer_t* later_ = nullptr;  // reports starts that failed after spawn() returned
  int64_t next_ticket_ = 1;
  std::unordered_map<int64_t, Entry> entries_;
  std::unordered_map<int, int64_t> by_pid_;
  // The request sockets' writes, held_, sealed_ and the servers' unanswered lists are
  // shared with the thread that calls send_sealed(); everything else is the loop thread's.
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Request>> held_;      // not sent yet (hold)
  size_t sealed_ = 0;                               // how many of held_ may go
  std::vector<std::pair<int64_t, int>> failures_;  // (ticket, -errno) for later_
  bool holding_ = false;
};

}  // namespace ochre
