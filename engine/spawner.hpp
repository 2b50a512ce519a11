// Starts hook commands through a fork server: a small helper process (`HELPER
// __spawn-server PARENT_PID`, cli/spawn_server.cpp) that ochre starts at its first
// command. Forking ochre itself copies its page tables, which grow with the pipeline;
// the helper is tiny, so a command costs one cheap spawn. Each command leads a session
// (and process group) of its own; the helper is their parent, asks the kernel for
// SIGTERM when ochre dies (even by kill -9) and then kills every group still alive, so
// commands never outlive ochre.
#pragma once
#include <sys/stat.h>
#include <uv.h>

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ochre {

class Spawner {
 public:
  // `helper` is the program run as the server; exits are reported on `loop`.
  Spawner(uv_loop_t* loop, std::string helper);
  ~Spawner();  // closes the server's sockets (it then kills what is left) and reaps it
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  struct Command {
    const std::string& cmd;
    const std::vector<std::string>& env;  // NAME=VALUE
    const std::string& cwd;               // "" for ochre's own
    int in, out, err;                     // the command's ends; `in` -1 for /dev/null
  };
  // (exit code, signal) as libuv's exit callback gives them.
  using Exited = std::function<void(int64_t code, int signal)>;

  // Starts `/bin/sh -c cmd` and returns its pid, which is also its process group once it
  // runs (kill both); or a negative errno when it could not start (e.g. no such
  // directory). The caller still owns (and closes) the fds. `exited` is called from the loop once the command ended,
  // unless forget(pid) came first.
  int spawn(const Command& command, Exited exited);
  void forget(int pid);
  // Kills a command's group (SIGKILL), telling the server first: a command it runs
  // without the shell then reports the signal, as the shell killed with it would.
  void kill(int pid);
  // Whether no command is running.
  bool idle() const { return running_.empty(); }

 private:
  bool start();
  void stop();
  int send_request(const Command& command, int dir);
  void on_events();
  void server_gone();
  void watching_changed();

  uv_loop_t* loop_;
  std::string helper_;
  int server_pid_ = -1;
  int request_fd_ = -1;
  int event_fd_ = -1;
  unsigned generation_ = 0;    // servers started so far
  struct stat server_dir_ {};  // the directory the server runs in (ochre's when it started)
  uv_poll_t* poll_ = nullptr;  // on event_fd_; freed when closed
  std::string events_;         // bytes of an Exit not whole yet
  std::unordered_map<int, Exited> running_;
};

}  // namespace ochre
