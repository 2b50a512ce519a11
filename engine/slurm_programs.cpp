// See slurm_programs.hpp.
#include "engine/slurm_programs.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "ochre/errors.hpp"

extern char** environ;

namespace ochre::slurm_detail {
namespace {

// A program run on the loop with its output captured; deletes itself once its handles
// are closed. `done` gets the exit status (-1: killed by a signal), stdout and stderr.
struct Child {
  using Done = ProgramDone;
  uv_process_t proc;
  uv_pipe_t out, err;
  std::string out_text, err_text;
  char buf[4096];
  int handles = 0, pipes = 2;
  bool exited = false;
  long long code = 0;
  Done done;

  void close(uv_handle_t* h) {
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* hh) {
      auto* self = static_cast<Child*>(hh->data);
      if (--self->handles == 0) delete self;
    });
  }
  void check() {
    if (!exited || pipes > 0 || !done) return;
    Done d = std::move(done);
    done = nullptr;
    d(code, std::move(out_text), std::move(err_text));
    close(reinterpret_cast<uv_handle_t*>(&proc));
  }
};

}  // namespace

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) fail(Msg::SlurmDirectory, {path});
}

// Starts `args` (looked up on PATH); returns libuv's error, 0 when it started.
int run_program(uv_loop_t* loop, const std::vector<std::string>& args, const std::vector<std::string>* env,
                const std::string& cwd, ProgramDone done) {
  auto* c = new Child;
  c->done = std::move(done);
  uv_pipe_init(loop, &c->out, 0);
  uv_pipe_init(loop, &c->err, 0);
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&c->out), reinterpret_cast<uv_handle_t*>(&c->err),
                         reinterpret_cast<uv_handle_t*>(&c->proc)}) {
    h->data = c;
    ++c->handles;
  }
  std::vector<std::string> a = args, e = env ? *env : std::vector<std::string>();
  std::vector<char*> argv, envp;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : e) envp.push_back(s.data());
  envp.push_back(nullptr);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&c->out);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&c->err);
  uv_process_options_t o{};
  o.file = argv[0];
  o.args = argv.data();
  o.env = env ? envp.data() : nullptr;
  o.cwd = cwd.empty() ? nullptr : cwd.c_str();
  o.stdio = stdio;
  o.stdio_count = 3;
  o.exit_cb = [](uv_process_t* p, int64_t status, int signal) {
    auto* self = static_cast<Child*>(p->data);
    self->exited = true;
    self->code = signal ? -1 : status;
    self->check();
  };
  int rc = uv_spawn(loop, &c->proc, &o);
  if (rc != 0) {
    c->done = nullptr;
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&c->out), reinterpret_cast<uv_handle_t*>(&c->err),
                           reinterpret_cast<uv_handle_t*>(&c->proc)})
      c->close(h);
    return rc;
  }
  for (uv_pipe_t* p : {&c->out, &c->err}) {
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(p),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* self = static_cast<Child*>(h->data);
          b->base = self->buf;
          b->len = sizeof self->buf;
        },
        [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
          auto* self = static_cast<Child*>(st->data);
          if (n > 0) {
            (st == reinterpret_cast<uv_stream_t*>(&self->out) ? self->out_text : self->err_text).append(b->base, n);
          } else if (n < 0) {
            self->close(reinterpret_cast<uv_handle_t*>(st));
            --self->pipes;
            self->check();
          }
        });
  }
  return 0;
}

// Runs scancel for `ids` and waits for it: a cancel must be done before ochre goes on
// (it may exit right after).
void scancel(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  std::vector<std::string> a = {"scancel"};
  a.insert(a.end(), ids.begin(), ids.end());
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (posix_spawnp(&pid, "scancel", &fa, nullptr, argv.data(), environ) == 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  posix_spawn_file_actions_destroy(&fa);
}

}  // namespace ochre::slurm_detail
