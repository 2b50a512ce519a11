// `ochre repl [FILE]`: Lua in the pipeline's state, and colon commands to plan, explain
// and step through an apply one job at a time. Line editing, a history file and
// completion (libedit) on a terminal; plain lines from stdin otherwise.
#include "cli/repl.hpp"

#include <editline/readline.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>

#include "ochre/ochre.hpp"

namespace ochre::cli {
namespace {

const char* const help_text =
    "Lua:   any line is Lua run in the pipeline's state; an expression (or = expr) prints\n"
    "       its value; a chunk goes on over several lines until it is complete.\n"
    "Commands:\n"
    "  :plan            the plan, as `ochre plan` prints it\n"
    "  :explain KEY     why KEY is planned: each changed field, old -> new\n"
    "  :step            run the next ready job, show what it did and what became ready\n"
    "  :continue        run every job left\n"
    "  :skip KEY        leave KEY's job (and what depends on it) for a later run\n"
    "  :state [KEY]     what the state holds (or one instance)\n"
    "  :graph           the planned graph\n"
    "  :history KEY     every stored version of KEY\n"
    "  :reload          re-read the file and plan again\n"
    "  :help            this text\n"
    "  :quit            leave (also Ctrl-D); a half-done apply is continued by `ochre run`\n";

const char* const commands[] = {":plan", ":explain", ":step", ":continue", ":skip", ":state",
                                ":graph", ":history", ":reload", ":help", ":quit", nullptr};

// Ctrl-C: at a prompt it ends the read (readline returns, the line is dropped); while a
// line of Lua runs, the engine stops it. A second one while that Lua has not stopped
// (a loop the JIT compiled) ends the REPL, as Ctrl-C did before. While :step and
// :continue run, the apply's own handler has SIGINT and stops them as it stops `run`.
volatile sig_atomic_t got_sigint = 0;
Engine* volatile evaluating = nullptr;
int sigint_pipe[2] = {-1, -1};  // written at each Ctrl-C: the terminal's read ends

void on_sigint(int) {
  if (Engine* e = evaluating) {
    if (got_sigint) {
      signal(SIGINT, SIG_DFL);
      raise(SIGINT);
      return;
    }
    e->interrupt();
  }
  got_sigint = 1;
  if (sigint_pipe[1] >= 0) {
    int saved = errno;
    ssize_t n = write(sigint_pipe[1], "", 1);
    (void)n;
    errno = saved;
  }
}

// libedit's reads of the terminal, one byte at a time. A Ctrl-C that comes while libedit
// is not blocked in read() (echoing, redrawing) would interrupt nothing and leave the
// prompt waiting for the next key: the pipe the handler writes to ends the read however
// late it is looked at. EOF then: readline returns and the caller sees got_sigint.
int read_terminal(FILE*) {
  int fd = fileno(rl_instream ? rl_instream : stdin);
  for (;;) {
    if (got_sigint) return EOF;
    pollfd p[2] = {{fd, POLLIN, 0}, {sigint_pipe[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return EOF;
    }
    if (p[1].revents) {
      char drain[16];
      while (read(sigint_pipe[0], drain, sizeof drain) > 0) {
      }
      continue;
    }
    unsigned char c;
    ssize_t n = read(fd, &c, 1);
    if (n == 1) return c;
    if (n < 0 && errno == EINTR) continue;
    return EOF;
  }
}

// Ours again: an apply's libuv handler leaves SIG_DFL behind when it stops. No
// SA_RESTART, so the terminal read is interrupted.
void catch_sigint() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
}

class Repl {
 public:
  Repl(std::string file, Options options) : file_(std::move(file)), options_(std::move(options)) {
    options_.keep_locals = true;
    options_.job_output = [](const std::string& key, std::string_view line) {
      std::cout << "[" << key << "] " << line << "\n" << std::flush;
    };
  }

  // Loads the file (if any) and plans; errors are shown, the session goes on.
  void load() {
    if (engine_ && engine_->applying()) finish_apply();
    engine_ = std::make_unique<Engine>(options_);
    planned_ = false;
    if (file_.empty()) return;
    try {
      engine_->load_file(file_);
      engine_->plan();
      planned_ = true;
      std::cout << engine_->plan_table();
    } catch (const Error& e) {
      std::cout << "error: " << e.display() << "\n";
    }
  }

  // Runs one line; false when the session should end.
  bool line(const std::string& text) {
    if (pending_.empty()) {
      std::string t = trim(text);
      if (t.empty()) return true;
      if (t[0] == ':') return command(t);
      if (t[0] == '=') t = t.substr(1);
      pending_ = t;
    } else {
      pending_ += "\n" + text;
    }
    try {
      bool incomplete = false;
      evaluating = engine_.get();
      std::string out;
      try {
        out = engine_->eval(pending_, incomplete);
      } catch (...) {
        evaluating = nullptr;
        throw;
      }
      evaluating = nullptr;
      if (incomplete) return true;
      if (!out.empty()) std::cout << out << "\n";
    } catch (const Error& e) {
      std::cout << "error: " << e.display() << "\n";
    }
    pending_.clear();
    return true;
  }

  bool continuing() const { return !pending_.empty(); }
  // Ctrl-C at a prompt: the line, or the chunk under way, is dropped.
  void cancel() { pending_.clear(); }

  std::vector<std::string> keys() const {
    std::vector<std::string> out = engine_ ? engine_->keys() : std::vector<std::string>{};
    return out;
  }

  // Ends the apply under way and plans again, so :plan and :graph show what is left.
  void finish_apply() {
    RunResult r = engine_->end_apply();
    std::cout << "apply ended: " << r.summary << "\n";
    try {
      engine_->plan();
    } catch (const Error& e) {
      planned_ = false;
      std::cout << "error: " << e.display() << "\n";
    }
  }

 private:
  static std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    size_t b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
  }

  // Ctrl-C during :step or :continue: said as `run` says it.
  static Callbacks callbacks() {
    Callbacks cb;
    cb.interrupted = [](int signals) {
      if (signals <= 2)
        std::cout << message(signals == 1 ? Msg::ReplInterrupted : Msg::ReplInterruptedAgain) << "\n" << std::flush;
    };
    return cb;
  }

  bool need_plan() {
    if (planned_) return true;
    std::cout << (file_.empty() ? "no pipeline: start with `ochre repl FILE`\n"
                                : "no plan: fix the pipeline and :reload\n");
    return false;
  }

  int job_of(const std::string& key) {
    for (const JobInfo& j : engine_->jobs())
      if (j.key == key || j.details == key) return j.index;
    return -1;
  }

  void step() {
    if (!need_plan()) return;
    if (!engine_->applying()) {
      if (engine_->jobs().empty()) engine_->plan();  // the state may have changed since
      if (engine_->jobs().empty()) {
        std::cout << "No changes needed \xe2\x80\x93 doing nothing!\n";
        return;
      }
      engine_->begin_apply(callbacks());  // plans again under the lock
      if (!engine_->applying()) {
        std::cout << "No changes needed \xe2\x80\x93 doing nothing!\n";
        return;
      }
    }
    auto jobs = engine_->jobs();
    auto ready = engine_->ready_jobs();
    if (ready.empty()) {
      finish_apply();
      return;
    }
    int i = ready.front();
    std::cout << "step " << i << ": " << jobs[i].details << " (" << jobs[i].reason << ")\n";
    JobEnd end = engine_->step(i);
    if (end.outcome == "done") std::cout << "done: " << jobs[i].details << "\n";
    else if (end.outcome == "pending") std::cout << "pending: " << jobs[i].details << " (" << end.error << ")\n";
    else std::cout << end.outcome << ": " << end.error << "\n";
    auto now = engine_->ready_jobs();
    std::string became;
    for (int j : now)
      if (std::find(ready.begin(), ready.end(), j) == ready.end())
        became += (became.empty() ? "" : ", ") + std::to_string(j) + " " + jobs[j].details;
    if (!became.empty()) std::cout << "ready now: " << became << "\n";
    if (now.empty()) finish_apply();
  }

  bool command(const std::string& t) {
    std::istringstream in(t);
    std::string cmd, arg, extra;
    in >> cmd >> arg >> extra;
    try {
      if (cmd == ":quit" || cmd == ":q" || cmd == ":exit") return false;
      if (cmd == ":help" || cmd == ":h") {
        std::cout << help_text;
      } else if (cmd == ":plan") {
        if (!file_.empty() && engine_->applying()) {
          std::cout << engine_->plan_table() << "(an apply is under way: :step, :continue or :quit)\n";
        } else if (need_plan()) {
          engine_->plan();
          std::cout << engine_->plan_table();
        }
      } else if (cmd == ":explain") {
        if (arg.empty()) std::cout << "usage: :explain KEY\n";
        else if (need_plan()) std::cout << engine_->explain(arg);
      } else if (cmd == ":step") {
        step();
      } else if (cmd == ":continue") {
        if (need_plan()) {
          if (!engine_->applying()) engine_->begin_apply(callbacks());  // plans again under the lock
          if (!engine_->applying()) {
            std::cout << "No changes needed \xe2\x80\x93 doing nothing!\n";
          } else {
            RunResult r = engine_->continue_apply();
            std::cout << r.summary << "\n";
          }
          engine_->plan();
        }
      } else if (cmd == ":skip") {
        if (arg.empty()) {
          std::cout << "usage: :skip KEY\n";
        } else if (need_plan()) {
          int i = job_of(arg);
          if (i < 0) std::cout << "error: " << message(Msg::NoJobFor, {arg}) << "\n";
          else {
            engine_->skip(i);
            std::cout << "skipped: " << engine_->jobs()[i].details << " (left for a later run)\n";
            if (engine_->ready_jobs().empty()) finish_apply();
          }
        }
      } else if (cmd == ":state") {
        std::cout << (arg.empty() ? engine_->state_list(false) : engine_->state_show(arg, false));
      } else if (cmd == ":graph") {
        if (need_plan()) std::cout << engine_->graph("text");
      } else if (cmd == ":history") {
        if (arg.empty()) std::cout << "usage: :history KEY\n";
        else std::cout << engine_->history(arg, false);
      } else if (cmd == ":reload") {
        load();
      } else {
        std::cout << "unknown command " << cmd << " (:help lists them)\n";
      }
    } catch (const Error& e) {
      std::cout << "error: " << e.display() << "\n";
    }
    return true;
  }

  std::string file_;
  Options options_;
  std::unique_ptr<Engine> engine_;
  bool planned_ = false;
  std::string pending_;
};

Repl* active = nullptr;
std::vector<std::string> candidates;


char* next_candidate(const char* text, int state) {
  static size_t i;
  if (state == 0) i = 0;
  size_t len = std::strlen(text);
  while (i < candidates.size()) {
    const std::string& c = candidates[i++];
    if (c.compare(0, len, text) == 0) return strdup(c.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int) {
  candidates.clear();
  std::string line(rl_line_buffer ? rl_line_buffer : "");
  if (start == 0 && !line.empty() && line[0] == ':') {
    for (const char* const* c = commands; *c; ++c) candidates.push_back(*c);
  } else if (!line.empty() && line[0] == ':') {
    if (active) candidates = active->keys();
  } else {
    return nullptr;  // Lua: the default (file names) is not useful; nothing
  }
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, next_candidate);
}

std::string history_path() {
  if (const char* p = std::getenv("OCHRE_HISTORY"); p && *p) return p;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.ochre_history";
  return {};
}

}  // namespace

int run_repl(const std::string& file, const Options& options) {
  Repl repl(file, options);
  active = &repl;
  bool tty = isatty(STDIN_FILENO);
  if (tty) std::cout << "ochre repl: Lua, or :help for commands\n";
  repl.load();
  if (!tty) {
    std::string text;
    while (std::getline(std::cin, text))
      if (!repl.line(text)) break;
  } else {
    rl_readline_name = "ochre";
    rl_attempted_completion_function = complete;
    rl_catch_signals = 0;  // libedit would pass Ctrl-C on to the default: the end
    if (pipe2(sigint_pipe, O_CLOEXEC | O_NONBLOCK) == 0) rl_getc_function = read_terminal;
    std::string hist = history_path();
    if (!hist.empty()) read_history(hist.c_str());
    for (;;) {
      catch_sigint();
      got_sigint = 0;
      char* raw = readline(repl.continuing() ? "....> " : "ochre> ");
      if (got_sigint) {  // the line (and a chunk under way) is dropped
        std::free(raw);
        std::cout << "^C\n" << std::flush;
        repl.cancel();
        continue;
      }
      if (!raw) {
        std::cout << "\n";
        break;
      }
      std::string text = raw;
      std::free(raw);
      if (!text.empty()) {
        add_history(text.c_str());
        if (!hist.empty()) write_history(hist.c_str());
      }
      got_sigint = 0;
      if (!repl.line(text)) break;
    }
    signal(SIGINT, SIG_DFL);
    for (int& fd : sigint_pipe) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }
  active = nullptr;
  return 0;
}

}  // namespace ochre::cli
