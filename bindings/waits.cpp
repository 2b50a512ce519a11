// The waiting calls: ochre.sleep, ochre.sh, ochre.wait_file, ochre.wait_pid. Inside a
// hook they yield to the event loop, so other jobs go on; outside one (while the
// pipeline loads) they drive the loop until done. Over 600 lines because ochre.sh is
// most of it (its options, both ways of starting a command, its output): it stays with
// the other waits, whose plumbing (HandleWait, wait_for) it shares.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "bindings/session.hpp"

extern char** environ;

namespace ochre::lua {
namespace {

Session& session_of(lua_State* L) {
  return *static_cast<Session*>(lua_touserdata(L, lua_upvalueindex(1)));
}

template <class H>
uv_handle_t* as_handle(H* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

// A wait with libuv handles; deletes itself after the last handle closed.
class HandleWait : public Wait {
 public:
  // The loop's clock is read afresh: it was last read when the loop last turned, and a
  // hook may start its wait after a long stretch of work (a plan, a connection to a
  // server), which would make a timer of 0.1 s fire at once.
  explicit HandleWait(Session& s) : Wait(s) { uv_update_time(s.loop()); }
  void track(uv_handle_t* h) {
    h->data = this;
    ++open_;
  }
  void close(uv_handle_t* h) {
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* hh) {
      auto* self = static_cast<HandleWait*>(hh->data);
      if (--self->open_ == 0) {
        self->session.waits.erase(self);
        delete self;
      }
    });
  }

 private:
  int open_ = 0;
};

}  // namespace

int wait_for(lua_State* L, Session& s, Wait* w) {
  s.waits.insert(w);
  JobContext* ctx = s.context_of(L);
  if (ctx) {
    w->job = ctx;
    ctx->waiting = w;
    return lua_yield(L, 0);
  }
  if (s.in_hook()) {
    w->cancel();
    w->release();
    throw UserError(message(Msg::WaitHere));
  }
  w->blocking = true;
  s.run_until([w] { return w->finished; });
  int n = w->push_results(L);
  w->release();
  return n;
}

namespace {

double timeout_option(lua_State* L, int opts, const char* fn) {
  if (!lua_istable(L, opts)) return 0;
  lua_getfield(L, opts, "timeout");
  double t = 0;
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 0)
      throw UserError(message(Msg::WaitTimeout, {fn}));
    t = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return t;
}

uint64_t millis(double seconds) { return static_cast<uint64_t>(seconds * 1000.0 + 0.5); }

// ---- ochre.sleep(seconds) ------------------------------------------------------

class SleepWait : public HandleWait {
 public:
  SleepWait(Session& s, double seconds) : HandleWait(s) {
    uv_timer_init(s.loop(), &timer_);
    track(as_handle(&timer_));
    uv_timer_start(&timer_, [](uv_timer_t* t) {
      auto* self = static_cast<SleepWait*>(t->data);
      self->complete();
      if (!self->blocking) self->release();
    }, millis(seconds), 0);
  }
  int push_results(lua_State*) override { return 0; }
  void cancel() override { uv_timer_stop(&timer_); release(); }
  void release() override { close(as_handle(&timer_)); }

 private:
  uv_timer_t timer_;
};

int l_ochre_sleep(lua_State* L) {
  Session& s = session_of(L);
  if (!lua_isnumber(L, 1) || lua_tonumber(L, 1) < 0) throw UserError(message(Msg::SleepSeconds));
  return wait_for(L, s, new SleepWait(s, lua_tonumber(L, 1)));
}

// ---- ochre.wait_file(path [, {timeout=}]) -> exists --------------------------------

// Checks every 50 ms: a stat is cheap, and unlike stat-change watchers it cannot miss a
// file that appears between the first check and the watch.
class FileWait : public HandleWait {
 public:
  FileWait(Session& s, std::string path, double timeout) : HandleWait(s), path_(std::move(path)) {
    uv_timer_init(s.loop(), &timer_);
    track(as_handle(&timer_));
    deadline_ = timeout > 0 ? uv_now(s.loop()) + millis(timeout) : 0;
    uv_timer_start(&timer_, [](uv_timer_t* t) {
      auto* self = static_cast<FileWait*>(t->data);
      bool exists = access(self->path_.c_str(), F_OK) == 0;
      if (exists || (self->deadline_ && uv_now(t->loop) >= self->deadline_)) {
        self->exists_ = exists;
        uv_timer_stop(t);
        self->complete();
        if (!self->blocking) self->release();
      }
    }, 50, 50);
  }
  int push_results(lua_State* L) override {
    lua_pushboolean(L, exists_);
    return 1;
  }
  void cancel() override { release(); }
  void release() override { close(as_handle(&timer_)); }

 private:
  std::string path_;
  uv_timer_t timer_;
  uint64_t deadline_ = 0;
  bool exists_ = false;
};

int l_ochre_wait_file(lua_State* L) {
  Session& s = session_of(L);
  if (lua_type(L, 1) != LUA_TSTRING) throw UserError(message(Msg::WaitFileTakes));
  std::string path = lua_tostring(L, 1);
  double timeout = timeout_option(L, 2, "ochre.wait_file");
  if (access(path.c_str(), F_OK) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return wait_for(L, s, new FileWait(s, path, timeout));
}

// ---- ochre.wait_pid(pid [, {timeout=}]) -> exited ------------------------------

class PidWait : public HandleWait {
 public:
  PidWait(Session& s, pid_t pid, double timeout) : HandleWait(s), pid_(pid) {
    uv_timer_init(s.loop(), &timer_);
    track(as_handle(&timer_));
    deadline_ = timeout > 0 ? uv_now(s.loop()) + millis(timeout) : 0;
    uv_timer_start(&timer_, [](uv_timer_t* t) {
      auto* self = static_cast<PidWait*>(t->data);
      bool gone = kill(self->pid_, 0) != 0 && errno == ESRCH;
      if (gone || (self->deadline_ && uv_now(t->loop) >= self->deadline_)) {
        self->exited_ = gone;
        uv_timer_stop(t);
        self->complete();
        if (!self->blocking) self->release();
      }
    }, 100, 100);
  }
  int push_results(lua_State* L) override {
    lua_pushboolean(L, exited_);
    return 1;
  }
  void cancel() override { release(); }
  void release() override { close(as_handle(&timer_)); }

 private:
  pid_t pid_;
  uv_timer_t timer_;
  uint64_t deadline_ = 0;
  bool exited_ = false;
};

int l_ochre_wait_pid(lua_State* L) {
  Session& s = session_of(L);
  if (!lua_isnumber(L, 1) || lua_tonumber(L, 1) <= 0) throw UserError(message(Msg::WaitPidTakes));
  pid_t pid = static_cast<pid_t>(lua_tonumber(L, 1));
  double timeout = timeout_option(L, 2, "ochre.wait_pid");
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return wait_for(L, s, new PidWait(s, pid, timeout));
}

// ---- ochre.sh(cmd [, {env=, cwd=, stdin=, timeout=, quiet=}]) -> {code, stdout, stderr}

class ProcessWait : public HandleWait {
 public:
  ProcessWait(Session& s) : HandleWait(s) {}

  // Returns an error text, or "" when the process started.
  std::string spawn(const std::string& cmd, const std::vector<std::string>& env, const std::string& cwd,
                    const std::string* stdin_data, double timeout, bool quiet) {
    quiet_ = quiet;
    uv_loop_t* loop = session.loop();
    uv_pipe_init(loop, &out_, 0);
    uv_pipe_init(loop, &err_, 0);
    uv_pipe_init(loop, &in_, 0);
    uv_timer_init(loop, &timer_);
    for (uv_handle_t* h : {as_handle(&out_), as_handle(&err_), as_handle(&in_), as_handle(&timer_)}) track(h);

    std::string err = session.options.spawn_helper.empty() ? spawn_directly(cmd, env, cwd, stdin_data != nullptr)
                                                           : spawn_by_server(cmd, env, cwd, stdin_data != nullptr);
    if (!err.empty()) return err;

    // A command run by the server is mostly over before it writes anything: its output is
    // read when its exit is known, and the loop watches its pipes only once it has run
    // for a while (for output as it comes, and so a full pipe never holds it up for
    // long). Commands ochre forks itself are watched from the start.
    if (by_server_) {
      uv_timer_init(loop, &watch_);  // started with the command (on_started)
      track(as_handle(&watch_));
    } else {
      watch_pipes();
    }
    if (stdin_data) {
      stdin_ = *stdin_data;
      uv_buf_t b = uv_buf_init(stdin_.data(), static_cast<unsigned>(stdin_.size()));
      write_.data = this;
      uv_write(&write_, reinterpret_cast<uv_stream_t*>(&in_), &b, 1, [](uv_write_t* w, int) {
        auto* self = static_cast<ProcessWait*>(w->data);
        self->close(as_handle(&self->in_));
      });
    } else {
      close(as_handle(&in_));
    }
    if (timeout > 0) {
      uv_timer_start(&timer_, [](uv_timer_t* t) {
        auto* self = static_cast<ProcessWait*>(t->data);
        self->timed_out_ = true;
        self->kill_group();
      }, millis(timeout), 0);
    }
    return {};
  }

  // Through the session's fork server (engine/spawner.hpp), which leads the command's
  // session and kills it if ochre dies.
  std::string spawn_by_server(const std::string& cmd, const std::vector<std::string>& env, const std::string& cwd,
                              bool with_stdin) {
    // Pipes (cheaper to make and close than socket pairs): ours on the loop, theirs to
    // the server. [0] is ochre's end and [1] the command's, whichever way they go.
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    int rc = uv_pipe(out, 0, 0);
    if (rc == 0) rc = uv_pipe(err, 0, 0);
    if (rc == 0 && with_stdin && (rc = uv_pipe(in, 0, 0)) == 0) std::swap(in[0], in[1]);
    if (rc == 0) {
      // Ours stay plain fds until the loop watches them (watch_pipes).
      out_fd_ = out[0];
      err_fd_ = err[0];
      out[0] = err[0] = -1;
      if (with_stdin) {
        uv_pipe_open(&in_, in[0]);
        in[0] = -1;
      }
      // The Spawner takes the command's ends.
      int64_t ticket = session.command_spawner().spawn(
          {cmd, env, cwd, in[1], out[1], err[1]}, [this](int pid) { on_started(pid); },
          [this](int64_t code, int signal) { on_exit(code, signal); });
      in[1] = out[1] = err[1] = -1;
      rc = ticket < 0 ? static_cast<int>(ticket) : 0;
      ticket_ = ticket;
    }
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
    if (rc < 0) return message(Msg::ShCannotStart, {uv_strerror(rc)});
    by_server_ = true;
    return {};
  }

  // The server forked the command, or could not (-errno): it then failed to start.
  void on_started(int pid) {
    if (pid > 0) {
      pid_ = pid;
      if (!watching_ && !exited_)
        uv_timer_start(&watch_, [](uv_timer_t* t) { static_cast<ProcessWait*>(t->data)->watch_pipes(); },
                       kWatchAfterMs, 0);
      return;
    }
    start_error_ = message(Msg::ShFailed, {message(Msg::ShCannotStart, {uv_strerror(pid)})});
    on_exit(0, 0);
  }

  // With libuv, `sh -c` straight from ochre (an embedder that names no helper).
  std::string spawn_directly(const std::string& cmd, const std::vector<std::string>& env, const std::string& cwd,
                             bool with_stdin) {
    std::vector<std::string> args = {"/bin/sh", "-c", cmd};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    std::vector<char*> envp;
    for (auto& e : env_copy) envp.push_back(e.data());
    envp.push_back(nullptr);

    uv_stdio_container_t stdio[3];
    if (with_stdin) {
      stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
      stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&in_);
    } else {
      stdio[0].flags = UV_IGNORE;
    }
    stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&out_);
    stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&err_);

    uv_process_options_t o{};
    o.file = argv[0];
    o.args = argv.data();
    o.env = envp.data();
    o.cwd = cwd.empty() ? nullptr : cwd.c_str();
    o.stdio = stdio;
    o.stdio_count = 3;
    // Its own process group, so a kill reaches everything it started.
    o.flags = UV_PROCESS_DETACHED;
    o.exit_cb = [](uv_process_t* p, int64_t status, int signal) {
      static_cast<ProcessWait*>(p->data)->on_exit(status, signal);
    };
    track(as_handle(&proc_));  // uv_spawn initializes the handle even when it fails
    has_proc_ = true;
    int rc = uv_spawn(session.loop(), &proc_, &o);
    if (rc != 0) return message(Msg::ShCannotStart, {uv_strerror(rc)});
    pid_ = proc_.pid;
    return {};
  }

  void on_exit(int64_t code, int signal) {
    exited_ = true;
    code_ = code;
    signal_ = signal;
    if (!watching_) drain_pipes();
    check_done();
  }

  // Reads the command's pipes on the loop as output comes.
  void watch_pipes() {
    if (watching_) return;
    watching_ = true;
    if (by_server_) uv_timer_stop(&watch_);
    for (auto [p, fd] : {std::pair{&out_, &out_fd_}, std::pair{&err_, &err_fd_}}) {
      if (*fd >= 0) {
        uv_pipe_open(p, *fd);
        *fd = -1;
      }
      if (uv_is_closing(as_handle(p))) continue;
      uv_read_start(reinterpret_cast<uv_stream_t*>(p),
                    [](uv_handle_t* h, size_t, uv_buf_t* buf) {
                      std::vector<char>& block = static_cast<ProcessWait*>(h->data)->session.read_buffer;
                      buf->base = block.data();
                      buf->len = block.size();
                    },
                    [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
                      auto* self = static_cast<ProcessWait*>(st->data);
                      self->on_read(st, n, buf);
                    });
    }
  }

  // The command ended before its pipes were watched: what it wrote is in them, and a
  // pipe nobody else holds is at its end. One still open elsewhere (a process the command
  // left behind) is watched from now on.
  void drain_pipes() {
    std::vector<char>& block = session.read_buffer;
    for (;;) {
      pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      int n = ::poll(p, 2, 0);
      if (n < 0 && errno == EINTR) continue;
      bool more = false;
      for (int i = 0; i < 2 && n > 0; ++i) {
        int& fd = i == 0 ? out_fd_ : err_fd_;
        auto* st = reinterpret_cast<uv_stream_t*>(i == 0 ? &out_ : &err_);
        if (p[i].revents & POLLIN) {  // (a read that cannot block)
          ssize_t k = ::read(fd, block.data(), block.size());
          if (k > 0) {
            uv_buf_t buf = uv_buf_init(block.data(), static_cast<unsigned>(k));
            on_read(st, k, &buf);
            more = true;
            continue;
          }
          if (k < 0 && errno == EINTR) {
            more = true;
            continue;
          }
        } else if (!(p[i].revents & (POLLHUP | POLLERR | POLLNVAL))) {
          continue;
        }
        ::close(fd);  // at its end
        fd = -1;
        --pipes_open_;
      }
      if (!more) break;
    }
    if (out_fd_ >= 0 || err_fd_ >= 0) watch_pipes();
    else if (by_server_) uv_timer_stop(&watch_);
  }

  void on_read(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
    bool is_out = st == reinterpret_cast<uv_stream_t*>(&out_);
    if (n > 0) {
      (is_out ? out_text_ : err_text_).append(buf->base, n);
      if (job && !quiet_) session.write_output(job->co, std::string_view(buf->base, n));
      return;
    }
    if (n < 0) {
      close(as_handle(st));
      --pipes_open_;
      check_done();
    }
  }

  void check_done() {
    if (!exited_ || pipes_open_ > 0 || finished) return;
    uv_timer_stop(&timer_);
    complete();
    if (!blocking) release();
  }

  void kill_group() {
    if (exited_) return;
    if (by_server_) {
      if (session.spawner) session.spawner->kill(ticket_);
    } else if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
    }
  }

  int push_results(lua_State* L) override {
    lua_createtable(L, 0, 5);
    if (!start_error_.empty()) {
      lua_pushlstring(L, start_error_.data(), start_error_.size());
      lua_setfield(L, -2, "error");
      return 1;
    }
    if (signal_ && !timed_out_) {
      lua_pushnil(L);
    } else {
      lua_pushnumber(L, timed_out_ ? 124 : static_cast<double>(code_));
    }
    lua_setfield(L, -2, "code");
    lua_pushlstring(L, out_text_.data(), out_text_.size());
    lua_setfield(L, -2, "stdout");
    lua_pushlstring(L, err_text_.data(), err_text_.size());
    lua_setfield(L, -2, "stderr");
    if (signal_) {
      lua_pushnumber(L, signal_);
      lua_setfield(L, -2, "signal");
    }
    lua_pushboolean(L, timed_out_);
    lua_setfield(L, -2, "timed_out");
    return 1;
  }

  void cancel() override { kill_group(); }

  void release() override {
    if (by_server_ && !exited_ && session.spawner) session.spawner->forget(ticket_);
    for (uv_handle_t* h : {as_handle(&out_), as_handle(&err_), as_handle(&in_), as_handle(&timer_)}) close(h);
    if (has_proc_) close(as_handle(&proc_));
    if (by_server_) close(as_handle(&watch_));
    for (int* fd : {&out_fd_, &err_fd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

 private:
  uv_process_t proc_;
  uv_pipe_t out_, err_, in_;
  // How long a command runs before the loop watches its pipes.
  static constexpr uint64_t kWatchAfterMs = 5;
  uv_timer_t timer_;
  uv_timer_t watch_;  // (by_server_) starts watch_pipes() once it has run kWatchAfterMs
  uv_write_t write_;
  std::string stdin_, out_text_, err_text_;
  std::string start_error_;  // the command could not start (found by the server)
  int64_t ticket_ = 0;       // the Spawner's, for a command it runs
  int pipes_open_ = 2;
  bool exited_ = false, timed_out_ = false, quiet_ = false;
  bool watching_ = false;   // the loop reads the pipes (watch_pipes)
  int out_fd_ = -1, err_fd_ = -1;  // ochre's ends while the loop does not watch them
  bool has_proc_ = false;   // proc_ is a libuv process (spawn_directly)
  bool by_server_ = false;  // started by the fork server, which reports its exit
  int64_t code_ = 0;
  int signal_ = 0;
  pid_t pid_ = 0;
};

std::vector<std::string> command_env(lua_State* L, int opts) {
  std::vector<std::pair<std::string, std::string>> vars;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) vars.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  lua_getfield(L, opts, "env");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) throw UserError(message(Msg::ShEnvTable));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING) throw UserError(message(Msg::ShEnvNames));
      std::string name = lua_tostring(L, -2);
      bool remove = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
      if (!remove && !lua_isstring(L, -1)) throw UserError(message(Msg::ShEnvValue, {name}));
      std::string value = remove ? "" : lua_tostring(L, -1);
      bool found = false;
      for (auto it = vars.begin(); it != vars.end(); ++it) {
        if (it->first != name) continue;
        found = true;
        if (remove) vars.erase(it);
        else it->second = value;
        break;
      }
      if (!found && !remove) vars.emplace_back(name, value);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  std::vector<std::string> out;
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

int l_ochre_sh(lua_State* L) {
  Session& s = session_of(L);
  if (lua_type(L, 1) != LUA_TSTRING) throw UserError(message(Msg::ShTakes));
  std::string cmd = lua_tostring(L, 1);
  if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2)) throw UserError(message(Msg::ShOptions));
  std::vector<std::string> env;
  std::string cwd, stdin_text;
  bool has_stdin = false, quiet = false;
  double timeout = 0;
  if (lua_istable(L, 2)) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      static const char* const known[] = {"env", "cwd", "stdin", "quiet", "timeout", "check", "executor", "slurm"};
      bool ok = lua_type(L, -2) == LUA_TSTRING;
      const char* name = ok ? lua_tostring(L, -2) : "?";
      if (ok) {
        ok = false;
        for (const char* k : known) ok = ok || std::strcmp(k, name) == 0;
      }
      if (!ok) throw UserError(message(Msg::ShUnknownOption, {lua_type(L, -2) == LUA_TSTRING ? name : luaL_typename(L, -2)}));
      if ((std::strcmp(name, "quiet") == 0 || std::strcmp(name, "check") == 0) && !lua_isboolean(L, -1))
        throw UserError(message(Msg::ShQuiet, {name}));
      lua_pop(L, 1);
    }
    env = command_env(L, 2);
    lua_getfield(L, 2, "cwd");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING) throw UserError(message(Msg::ShCwd));
      cwd = lua_tostring(L, -1);
    }
    lua_getfield(L, 2, "stdin");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING) throw UserError(message(Msg::ShStdin));
      size_t len = 0;
      const char* t = lua_tolstring(L, -1, &len);
      stdin_text.assign(t, len);
      has_stdin = true;
    }
    lua_getfield(L, 2, "quiet");
    quiet = lua_toboolean(L, -1);
    lua_pop(L, 3);
    timeout = timeout_option(L, 2, "ochre.sh");
  } else {
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  }
  SlurmSpec spec;
  if (cluster_call(s, L, 2, spec)) {
    ClusterCommand c;
    c.command = cmd;
    c.cwd = cwd;
    c.has_stdin = has_stdin;
    c.stdin_text = std::move(stdin_text);
    c.env = std::move(env);
    c.spec = std::move(spec);
    c.timeout = timeout;
    return start_cluster_command(s, L, std::move(c), quiet);
  }
  auto* w = new ProcessWait(s);
  std::string err = w->spawn(cmd, env, cwd, has_stdin ? &stdin_text : nullptr, timeout, quiet);
  if (!err.empty()) {
    w->release();
    throw UserError(message(Msg::ShFailed, {err}));
  }
  return wait_for(L, s, w);
}

}  // namespace

// Adds the natives to the table on the top of the stack (the DSL's internal table).
void install_waits(Session& s, lua_State* L) {
  const luaL_Reg natives[] = {
      {"sleep", trampoline<l_ochre_sleep>},
      {"spawn", trampoline<l_ochre_sh>},
      {"wait_file", trampoline<l_ochre_wait_file>},
      {"wait_pid", trampoline<l_ochre_wait_pid>},
  };
  for (const auto& r : natives) {
    lua_pushlightuserdata(L, &s);
    lua_pushcclosure(L, r.func, 1);
    lua_setfield(L, -2, r.name);
  }
}

}  // namespace ochre::lua
