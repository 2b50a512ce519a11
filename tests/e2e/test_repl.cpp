// `ochre repl`: Lua in the pipeline's state and the colon commands, driven through a pipe
// (line by line, checking the state between commands) and through a real pseudo-terminal
// (prompt, line editing, completion, history file).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"
#include "e2e/repl_pty.hpp"

using e2e::count;
using e2e::find_row;
using e2e::plan_rows;
using e2e::Result;
using e2e::subst;
using e2e::TempDir;
using e2e::Clock;
using e2e::deadline_in;
using e2e::ms_left;
using e2e::Exec;
using e2e::child_defaults;
using ReplPty = e2e::ReplPty;
using Rows = std::vector<std::string>;

namespace {

const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";
const std::string arrow = "\xe2\x86\x92";

// A chain of three: C/c uses B/b uses A/a; `root` is also a global for the REPL.
const std::string chain = std::string(e2e::printing_prelude) + R"(local A = T("A", { fields = { n = 1 } })
local B = T("B", { fields = { a = ochre.required, label = "test" } })
local C = T("C", { breaks = { "size" }, fields = { b = ochre.required, label = "test", size = 1 } })
root = C "c" { {{c}}b = B "b" { {{b}}a = A "a" { {{a}}} } }
return root
)";

std::string chain_with(const std::string& a = "", const std::string& b = "", const std::string& c = "") {
  return subst(subst(subst(chain, "a", a), "b", b), "c", c);
}

// `ochre repl ...` with stdin a socket the test writes to (not a terminal) and stdout and
// stderr read as they come. Single-threaded: output is read while waiting for text.
class Session {
 public:
  Session(const TempDir& dir, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env = {}) {
    Exec ex(dir, args, env);
    int in[2], out[2], err[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) || pipe2(out, O_CLOEXEC) ||
        pipe2(err, O_CLOEXEC))
      throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      dup2(in[1], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      child_defaults();
      setpgid(0, 0);
      if (chdir(dir.path().c_str()) != 0) _exit(127);
      execve(ex.argv[0], ex.argv.data(), ex.envp.data());
      _exit(127);
    }
    close(in[1]);
    close(out[1]);
    close(err[1]);
    in_ = in[0];
    fds_[0] = out[0];
    fds_[1] = err[0];
  }
  ~Session() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
    }
    for (int fd : {in_, fds_[0], fds_[1]})
      if (fd >= 0) close(fd);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void send(const std::string& text) {
    for (size_t off = 0; off < text.size();) {
      ssize_t n = ::send(in_, text.data() + off, text.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("cannot write to ochre repl's stdin");
      off += static_cast<size_t>(n);
    }
  }

  // Sends `line`, then a marker line, and returns what `line` printed (waiting for the
  // marker, at most `timeout` seconds). Only for complete lines.
  std::string cmd(const std::string& line, double timeout = 30) {
    std::string marker = "@@mark" + std::to_string(++marks_) + "@@";
    send(line + "\nprint(\"" + marker + "\")\n");
    std::string want = marker + "\n";
    auto deadline = deadline_in(timeout);
    size_t at;
    while ((at = out_.find(want, mark_)) == std::string::npos && !eof() && Clock::now() < deadline)
      pump(ms_left(deadline));
    at = out_.find(want, mark_);
    INFO("stdout so far:\n" << out_ << "\nstderr so far:\n" << err_);
    REQUIRE(at != std::string::npos);
    std::string said = out_.substr(mark_, at - mark_);
    mark_ = at + want.size();
    return said;
  }

  // Closes stdin (EOF), reads to the end and reaps the process.
  Result finish(double timeout = 30) {
    shutdown(in_, SHUT_WR);
    auto deadline = deadline_in(timeout);
    while (!eof() && Clock::now() < deadline) pump(ms_left(deadline));
    while (!reaped_) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
      } else if (Clock::now() >= deadline) {  // hung: the code says it (128 + 9)
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status_, 0);
        reaped_ = true;
      } else {
        pump(10);  // with both pipes closed, a 10 ms wait
      }
    }
    auto drain = deadline_in(5);
    while (!eof() && Clock::now() < drain) pump(ms_left(drain));
    Result res;
    res.code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
    res.out = out_;
    res.err = err_;
    return res;
  }

  // stdout after the last cmd() (or from the start).
  std::string rest() const { return out_.substr(mark_); }

 private:
  bool eof() const { return fds_[0] < 0 && fds_[1] < 0; }
  void pump(int ms) {
    pollfd p[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
    int n = poll(p, 2, ms);
    if (n <= 0) return;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(p[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(fds_[i]);
        fds_[i] = -1;
      } else {
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(got));
      }
    }
  }

  pid_t pid_ = -1;
  int in_ = -1;
  int fds_[2] = {-1, -1};
  int status_ = 0;
  bool reaped_ = false;
  std::string out_, err_;
  size_t mark_ = 0;
  int marks_ = 0;
};

// One whole piped session: `input` on stdin, then EOF.
Result repl(const TempDir& dir, const std::vector<std::string>& args, const std::string& input) {
  Session s(dir, args);
  s.send(input);
  return s.finish();
}

// The uuid of `key` in a printed plan.
// `ochre plan`'s output without what it lists under the table: the REPL's :plan is the table.
e2e::Result table_of(e2e::Result r) {
  size_t end = r.out.find("\n\n");
  if (end != std::string::npos) r.out.resize(end + 1);
  return r;
}

std::string uuid_of(const std::string& plan_out, const std::string& key) {
  for (const auto& r : plan_rows(plan_out))
    if (r.key == key) return r.uuid;
  return "(no uuid for " + key + ")";
}

// A libedit history file's lines, with its \040-style escapes decoded.
Rows history_lines(const TempDir& dir, const std::string& name) {
  Rows out;
  for (const auto& raw : dir.lines(name)) {
    std::string line;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size() && std::isdigit(static_cast<unsigned char>(raw[i + 1]))) {
        line += static_cast<char>(std::stoi(raw.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        line += raw[i];
      }
    }
    out.push_back(line);
  }
  return out;
}

bool has(const Rows& rows, const std::string& row) {
  return std::find(rows.begin(), rows.end(), row) != rows.end();
}

}  // namespace

TEST_CASE("repl: expressions print their values: numbers, strings, sorted and nested tables, "
          "instances as Type/identifier/uuid",
          "[e2e][repl]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  REQUIRE(plan.code == 0);
  const std::string ua = uuid_of(plan.out, "A/a"), ub = uuid_of(plan.out, "B/b"), uc = uuid_of(plan.out, "C/c");
  REQUIRE(ua.size() == 16);

  auto r = repl(dir, {"repl", "pipeline.lua"},
                "1 + 2\n"
                "{ c = \"s\", a = 1, b = { 1, 2, 3 } }\n"
                "\"quoted\"\n"
                "1, \"two\", nil\n"
                "{ 10, 20, x = true }\n"
                "{}\n"
                "{ alpha = \"aaaaaaaaaaaaaaaaaaaa\", beta = \"bbbbbbbbbbbbbbbbbbbb\", gamma = { 1, 2 }, delta = true }\n"
                "root\n"
                "root.b\n"
                "{ parent = root, list = { root.b.a } }\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  // The plan as `ochre plan` prints it, then one value per line; no banner, no prompt.
  CHECK(r.out == plan.out +
                     "3\n"
                     "{ a = 1, b = { 1, 2, 3 }, c = \"s\" }\n"
                     "\"quoted\"\n"
                     "1\t\"two\"\tnil\n"
                     "{ [1] = 10, [2] = 20, x = true }\n"
                     "{}\n"
                     "{\n"
                     "  alpha = \"aaaaaaaaaaaaaaaaaaaa\",\n"
                     "  beta = \"bbbbbbbbbbbbbbbbbbbb\",\n"
                     "  delta = true,\n"
                     "  gamma = { 1, 2 }\n"
                     "}\n"
                     "C/c/" + uc + "\n"
                     "B/b/" + ub + "\n"
                     "{ list = { A/a/" + ua + " }, parent = C/c/" + uc + " }\n");
  // Evaluating wrote nothing.
  CHECK_FALSE(dir.has_state());
}

TEST_CASE("repl: globals persist between lines, chunks go on over several lines, require works",
          "[e2e][repl]") {
  TempDir dir;
  // Without a FILE: no plan, just Lua.
  auto r = repl(dir, {"repl"},
                "x = 20\n"
                "x * 2\n"
                "= x + 1\n"
                "function sq(n)\n"
                "  return n * n\n"
                "end\n"
                "sq(x)\n"
                "for i = 1, 3 do\n"
                "  print(\"i=\" .. i)\n"
                "end\n"
                "local hidden = 5\n"
                "hidden\n"
                "t = {\n"
                "  k = \"v\",\n"
                "}\n"
                "t\n"
                "local o = require \"ochre\"; return type(o.sh), type(o.component)\n"
                "print(\"hi\")\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out ==
        "40\n"
        "21\n"
        "400\n"
        "i=1\ni=2\ni=3\n"
        "nil\n"
        "{ k = \"v\" }\n"
        "\"function\"\t\"function\"\n"
        "hi\n");
  CHECK_FALSE(dir.exists(".ochre"));
}

TEST_CASE("repl: an expression after = goes on over several lines while incomplete", "[e2e][repl]") {
  TempDir dir;
  auto r = repl(dir, {"repl"},
                "= {\n"
                "  a = 1,\n"
                "  b = 2 }\n"
                "= 40 +\n"
                "  2\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out == "{ a = 1, b = 2 }\n42\n");
}

TEST_CASE("repl: errors are shown and the session goes on", "[e2e][repl][errors]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  Session s(dir, {"repl", "pipeline.lua"});
  CHECK(s.cmd("") == plan.out);

  auto said = s.cmd("nil + 1");
  CHECK(said.rfind("error: ", 0) == 0);
  CHECK(said.find("arithmetic on a nil value") != std::string::npos);
  CHECK(count(said, "\n") == 1);
  CHECK(s.cmd("1 + 1") == "2\n");

  said = s.cmd("1 +* 2");
  CHECK(said.rfind("error: ", 0) == 0);
  CHECK(said.find("syntax error") != std::string::npos);
  CHECK(s.cmd("= 2 + 2") == "4\n");

  said = s.cmd("error(\"boom\")");
  CHECK(said.rfind("error: ", 0) == 0);
  CHECK(said.find("boom") != std::string::npos);
  CHECK(s.cmd("3 + 3") == "6\n");

  // A syntax error inside a multi-line chunk ends the chunk; the next line starts afresh.
  s.send("for i = 1, 2 do\n");
  said = s.cmd("  print(i) )");
  CHECK(said.rfind("error: ", 0) == 0);
  CHECK(said.find("syntax error") != std::string::npos);
  CHECK(count(said, "\n") == 1);
  CHECK(s.cmd("4 + 4") == "8\n");

  CHECK(s.cmd(":nope") == "unknown command :nope (:help lists them)\n");
  CHECK(s.cmd(":explain") == "usage: :explain KEY\n");
  CHECK(s.cmd(":skip") == "usage: :skip KEY\n");
  CHECK(s.cmd(":history") == "usage: :history KEY\n");
  CHECK(s.cmd(":explain No/such") == "error: no instance 'No/such' in the pipeline or the state\n");
  CHECK(s.cmd(":skip No/such") == "error: no job for No/such in the plan\n");
  CHECK(s.cmd("print(\"still here\")") == "still here\n");
  s.send(":quit\nprint(\"never\")\n");
  auto r = s.finish();
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(s.rest().empty());
  CHECK(r.out.find("never") == std::string::npos);
  // Nothing was applied.
  CHECK_FALSE(dir.has_state());
}

TEST_CASE("repl: :help lists the commands", "[e2e][repl]") {
  TempDir dir;
  auto r = repl(dir, {"repl"}, ":help\n");
  CHECK(r.code == 0);
  for (const char* c : {":plan", ":explain KEY", ":step", ":continue", ":skip KEY", ":state [KEY]", ":graph",
                        ":history KEY", ":reload", ":help", ":quit"}) {
    INFO(c);
    CHECK(r.out.find(std::string("  ") + c + " ") != std::string::npos);
  }
}

TEST_CASE("repl: :plan and :graph show the plan, and nothing is written", "[e2e][repl]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  REQUIRE(plan.code == 0);
  REQUIRE(plan_rows(plan.out).size() == 3);
  auto r = repl(dir, {"repl", "pipeline.lua"}, ":plan\n:graph\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out == plan.out + plan.out +
                     "A/a (create)\n"
                     "B/b (create)\n"
                     "  <- A/a\n"
                     "C/c (create)\n"
                     "  <- B/b\n");
  CHECK_FALSE(dir.has_state());
}

TEST_CASE("repl: :graph marks what is to be deleted", "[e2e][repl]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  auto text = chain_with();
  text.replace(text.find("return root\n"), std::string("return root\n").size(), "return root.b\n");
  dir.write("pipeline.lua", text);
  auto r = repl(dir, {"repl", "pipeline.lua"}, ":graph\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  auto rows = plan_rows(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "C/c");
  CHECK(rows[0].event == "DELETE");
  CHECK(r.out.find("|\nA/a\nB/b\n  <- A/a\nC/c (delete)\n") != std::string::npos);
}

TEST_CASE("repl: :explain a non-breaking change, a sub-component change and a breaking change",
          "[e2e][repl][explain]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  const std::string before = dir.state_bytes();

  SECTION("a non-breaking field") {
    dir.write("pipeline.lua", chain_with("", "", "label = \"other\", "));
    auto r = repl(dir, {"repl", "pipeline.lua"}, ":explain C/c\n:explain B/b\n");
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    auto rows = plan_rows(r.out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].event == "UPDATE");
    CHECK(r.out.find("C/c: UPDATE (changed: label)\n"
                     "  label: \"test\" -> \"other\"\n"
                     "B/b: no change\n") != std::string::npos);
    CHECK(r.out.find("[breaking]") == std::string::npos);
  }
  SECTION("a sub-component's field") {
    dir.write("pipeline.lua", chain_with("n = 2 "));
    auto r = repl(dir, {"repl", "pipeline.lua"}, ":explain B/b\n:explain A/a\n");
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(plan_rows(r.out).size() == 3);
    CHECK(r.out.find("B/b: UPDATE (changed: a)\n"
                     "  a: sub-component A/a changed\n"
                     "A/a: UPDATE (changed: n)\n"
                     "  n: 1 -> 2\n") != std::string::npos);
  }
  SECTION("a breaking field, and a non-breaking one with it") {
    dir.write("pipeline.lua", chain_with("", "", "label = \"other\", size = 2, "));
    auto r = repl(dir, {"repl", "pipeline.lua"}, ":explain C/c\n");
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    auto rows = plan_rows(r.out);
    REQUIRE(rows.size() == 2);
    CHECK(find_row(rows, "C/c", "delete"));
    CHECK(find_row(rows, "C/c", "create"));
    const std::string want =
        "C/c: DELETE (replace: breaking field size changed)\n"
        "C/c: CREATE (replace: breaking field size changed)\n"
        "  label: \"test\" -> \"other\"\n"
        "  size: 1 -> 2  [breaking]\n";
    CHECK(r.out.find(want) != std::string::npos);
    // The same as `ochre explain`.
    auto e = dir.ochre({"explain", "pipeline.lua", "C/c"});
    CHECK(e.code == 0);
    CHECK(r.out.find(e.out) != std::string::npos);
  }
  // Explaining applies nothing.
  CHECK(dir.state_bytes() == before);
}

TEST_CASE("repl: :step runs one job at a time, recorded in the state as ochre run records it",
          "[e2e][repl][step]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  const std::string a = "A/a/" + uuid_of(plan.out, "A/a") + ".create";
  const std::string b = "B/b/" + uuid_of(plan.out, "B/b") + ".create";
  const std::string c = "C/c/" + uuid_of(plan.out, "C/c") + ".create";

  Session s(dir, {"repl", "pipeline.lua"});
  CHECK(s.cmd("") == plan.out);
  CHECK_FALSE(dir.has_state());

  CHECK(s.cmd(":step") == "step 0: " + a + " (new)\n"
                          "[A/a] CREATE A/a\n"
                          "done: " + a + "\n"
                          "ready now: 1 " + b + "\n");
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|ok"});
  CHECK(dir.query("SELECT key, action, outcome, output FROM jobs ORDER BY seq") ==
        Rows{"A/a|create|done|CREATE A/a\n"});
  CHECK(dir.query("SELECT command, outcome FROM runs") == Rows{"apply|running"});
  // :state says what `ochre state list` says (a read-only view: the REPL's lock does not stop it).
  auto list = dir.ochre({"state", "list"});
  CHECK(list.code == 0);
  CHECK(s.cmd(":state") == list.out);
  CHECK(list.out.find("A/a") != std::string::npos);
  CHECK(list.out.find("B/b") == std::string::npos);

  CHECK(s.cmd(":step") == "step 1: " + b + " (new)\n"
                          "[B/b] CREATE B/b\n"
                          "done: " + b + "\n"
                          "ready now: 2 " + c + "\n");
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|ok", "B/b|ok"});
  CHECK(dir.query("SELECT key, outcome FROM jobs ORDER BY seq") == Rows{"A/a|done", "B/b|done"});
  CHECK(s.cmd(":state") == dir.ochre({"state", "list"}).out);

  CHECK(s.cmd(":step") == "step 2: " + c + " (new)\n"
                          "[C/c] CREATE C/c\n"
                          "done: " + c + "\n"
                          "apply ended: 3 done\n");
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|ok", "B/b|ok", "C/c|ok"});
  CHECK(dir.query("SELECT key, outcome FROM jobs ORDER BY seq") == Rows{"A/a|done", "B/b|done", "C/c|done"});
  CHECK(dir.query("SELECT command, outcome, summary, ended IS NOT NULL FROM runs") == Rows{"apply|done|3 done|1"});
  // Nothing is left: :step and :plan say so.
  CHECK(s.cmd(":step") == no_changes);
  CHECK(s.cmd(":plan") == no_changes);
  CHECK(s.cmd(":state C/c") == dir.ochre({"state", "show", "C/c"}).out);
  auto r = s.finish();
  CHECK(r.code == 0);
  CHECK(r.err.empty());

  // The same records as `ochre run` makes of the same pipeline.
  TempDir other;
  other.write("pipeline.lua", chain_with());
  REQUIRE(other.ochre({"run", "pipeline.lua"}).code == 0);
  const std::string jobs = "SELECT seq, key, uuid, action, outcome, error, output FROM jobs ORDER BY seq";
  const std::string insts = "SELECT key, uuid, hash, fields, outputs, deps, status, action, error, run FROM instances ORDER BY key";
  CHECK(dir.query(jobs) == other.query(jobs));
  CHECK(dir.query(insts) == other.query(insts));
  CHECK(dir.query("SELECT command, outcome, summary FROM runs") ==
        other.query("SELECT command, outcome, summary FROM runs"));

  auto again = dir.ochre({"run", "pipeline.lua"});
  CHECK(again.code == 0);
  CHECK(again.out == no_changes);
}

TEST_CASE("repl: quit half-way, and ochre run runs only what is left", "[e2e][repl][step]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  std::string input;
  Rows left;
  SECTION(":quit after one step") {
    input = ":step\n:quit\n:step\n";
    left = {"B/b", "C/c"};
  }
  SECTION("end of input after two steps") {
    input = ":step\n:step\n";
    left = {"C/c"};
  }
  auto r = repl(dir, {"repl", "pipeline.lua"}, input);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  const int stepped = static_cast<int>(3 - left.size());
  CHECK(count(r.out, "step ") == stepped);
  CHECK(count(r.out, "done: ") == stepped);
  CHECK(dir.query("SELECT count(*) FROM instances WHERE status = 'ok'") == Rows{std::to_string(stepped)});
  // The REPL's run is closed.
  CHECK(dir.query("SELECT count(*) FROM runs WHERE ended IS NULL") == Rows{"0"});

  auto run = dir.ochre({"run", "pipeline.lua"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  auto rows = plan_rows(run.out);
  REQUIRE(rows.size() == left.size());
  for (size_t i = 0; i < left.size(); ++i) {
    CHECK(rows[i].key == left[i]);
    CHECK(rows[i].event == "CREATE");
    CHECK(count(run.out, "[" + left[i] + "] CREATE " + left[i]) == 1);
  }
  CHECK(run.out.find("CREATE A/a") == std::string::npos);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|ok", "B/b|ok", "C/c|ok"});
  // Every create ran exactly once over the two processes.
  CHECK(dir.query("SELECT key, count(*) FROM jobs WHERE outcome = 'done' GROUP BY key ORDER BY key") ==
        Rows{"A/a|1", "B/b|1", "C/c|1"});
  CHECK(dir.ochre({"run", "pipeline.lua"}).out == no_changes);
}

TEST_CASE("repl: :continue runs what is left after a step", "[e2e][repl][step]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto r = repl(dir, {"repl", "pipeline.lua"}, ":step\n:continue\n:plan\n:continue\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(e2e::in_order(r.out, {"[A/a] CREATE A/a", "done: A/a", "[B/b] CREATE B/b", "[C/c] CREATE C/c",
                              "3 done\n" + no_changes}));
  CHECK(r.out.find("3 done\n" + no_changes + no_changes) != std::string::npos);
  CHECK(count(r.out, "CREATE A/a\n") == 1);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|ok", "B/b|ok", "C/c|ok"});
  CHECK(dir.query("SELECT outcome, summary FROM runs") == Rows{"done|3 done"});
}

TEST_CASE("repl: :skip leaves a job and its dependents for a later run", "[e2e][repl][step]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  const std::string a = "A/a/" + uuid_of(plan.out, "A/a") + ".create";
  const std::string b = "B/b/" + uuid_of(plan.out, "B/b") + ".create";

  Session s(dir, {"repl", "pipeline.lua"});
  CHECK(s.cmd("") == plan.out);
  CHECK(s.cmd(":skip B/b") == "skipped: " + b + " (left for a later run)\n");
  CHECK(s.cmd(":step") == "step 0: " + a + " (new)\n"
                          "[A/a] CREATE A/a\n"
                          "done: " + a + "\n"
                          "apply ended: 1 done, 2 skipped\n");
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|ok"});
  // Planned again: what was skipped is what is left.
  auto left = plan_rows(s.cmd(":plan"));
  REQUIRE(left.size() == 2);
  CHECK(left[0].key == "B/b");
  CHECK(left[1].key == "C/c");
  CHECK(s.finish().code == 0);

  auto run = dir.ochre({"run", "pipeline.lua"});
  INFO(run.out << run.err);
  CHECK(run.code == 0);
  CHECK(plan_rows(run.out).size() == 2);
  CHECK(count(run.out, "[B/b] CREATE B/b") == 1);
  CHECK(count(run.out, "[C/c] CREATE C/c") == 1);
  CHECK(run.out.find("CREATE A/a") == std::string::npos);
}

// A regression test for the reuse of stored ids (a plan that changes nothing hashes
// nothing): the dependent's fields are what was stored, and its sub-component's hash is
// what is stored for it, yet its stored ids are stale because its job never ran.
TEST_CASE("repl: a dependent skipped after its sub-component changed is updated by the next run",
          "[e2e][repl][step][reuse]") {
  TempDir dir;
  const std::string pipeline = R"(local ochre = require "ochre"
local Leaf = ochre.component "Leaf" { fields = { v = 1 } }
local Top = ochre.component "Top" {
  fields = { leaf = false },
  update = function(self) print("UPDATE " .. tostring(self)) end,
}
return Top "top" { leaf = Leaf "leaf" { v = {{V}} } }
)";
  dir.write("pipeline.lua", subst(pipeline, "V", "1"));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  const Rows applied = dir.query("SELECT key, hash FROM instances ORDER BY key");

  dir.write("pipeline.lua", subst(pipeline, "V", "2"));
  Session s(dir, {"repl", "pipeline.lua"});
  auto plan = plan_rows(s.cmd(""));
  REQUIRE(plan.size() == 2);
  CHECK(plan[1].key == "Top/top");
  CHECK(plan[1].event == "UPDATE");
  CHECK(s.cmd(":skip Top/top").find("skipped: Top/top/") == 0);
  CHECK(s.cmd(":step").find("apply ended: 1 done, 1 skipped") != std::string::npos);
  CHECK(s.finish().code == 0);
  // The leaf is stored as changed, the top as it was.
  auto now = dir.query("SELECT key, hash FROM instances ORDER BY key");
  REQUIRE(now.size() == 2);
  CHECK(now[0] != applied[0]);
  CHECK(now[1] == applied[1]);

  auto again = table_of(dir.ochre({"plan", "pipeline.lua"}));
  auto rows = plan_rows(again.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].key == "Top/top");
  CHECK(rows[0].event == "UPDATE");
  auto run = dir.ochre({"run", "pipeline.lua"});
  CHECK(count(run.out, "[Top/top] UPDATE Top/top") == 1);
  CHECK(dir.ochre({"run", "pipeline.lua"}).out == no_changes);
}

TEST_CASE("repl: :skip of a job that already ran says so in the REPL's terms", "[e2e][repl][step][errors]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  Session s(dir, {"repl", "pipeline.lua"});
  s.cmd("");
  CHECK(s.cmd(":step").find("done: A/a/") != std::string::npos);
  auto said = s.cmd(":skip A/a");
  CHECK(said.rfind("error: ", 0) == 0);
  CHECK(said.find("cannot be skipped") != std::string::npos);
  CHECK(count(said, "\n") == 1);
  // A REPL user is pointed at :help, not at the command line's --help.
  CHECK(said.find("ochre --help") == std::string::npos);
  // And nothing changed: the next step is B/b's.
  CHECK(s.cmd(":step").rfind("step 1: B/b/", 0) == 0);
  CHECK(s.finish().code == 0);
}

TEST_CASE("repl: :step plans afresh: what another ochre applied meanwhile is not run again",
          "[e2e][repl][step]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  Session s(dir, {"repl", "pipeline.lua"});
  CHECK(plan_rows(s.cmd("")).size() == 3);
  // While the REPL waits for input, `ochre run` applies everything.
  auto run = dir.ochre({"run", "pipeline.lua"});
  REQUIRE(run.code == 0);
  CHECK(count(run.out, "[A/a] CREATE A/a") == 1);
  // Stepping now must not create A/a a second time.
  auto said = s.cmd(":step");
  CHECK(said == no_changes);
  CHECK(said.find("CREATE A/a") == std::string::npos);
  CHECK(s.cmd(":continue") == no_changes);
  s.finish();
  CHECK(dir.query("SELECT key, count(*) FROM jobs WHERE outcome = 'done' GROUP BY key ORDER BY key") ==
        Rows{"A/a|1", "B/b|1", "C/c|1"});
}

TEST_CASE("repl: :step on a state another ochre holds says who holds it, and the session goes on",
          "[e2e][repl][step][errors]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local W = ochre.component "W" { fields = {}, create = function(self)
  io.open("started", "w"):close()
  ochre.wait_file("go", { timeout = 60 })
  print("W done")
end }
return W "w" {}
)");
  auto holder = dir.start({"run", "pipeline.lua"});
  REQUIRE(dir.wait_for_file("started"));
  Session s(dir, {"repl", "pipeline.lua"});
  s.cmd("");
  auto said = s.cmd(":step");
  CHECK(said.rfind("error: ", 0) == 0);
  CHECK(said.find("locked by pid " + std::to_string(holder->pid())) != std::string::npos);
  CHECK(count(said, "\n") == 1);
  CHECK(s.cmd("1 + 1") == "2\n");
  dir.write("go", "");
  auto h = holder->wait();
  CHECK(h.code == 0);
  CHECK(count(h.out, "[W/w] W done") == 1);
  // Planned again now that the holder is done: nothing is left.
  CHECK(s.cmd(":reload") == no_changes);
  CHECK(s.cmd(":step") == no_changes);
  CHECK(s.finish().code == 0);
  CHECK(dir.query("SELECT key, status FROM instances") == Rows{"W/w|ok"});
}

TEST_CASE("repl: stepping a failing job and a pending one", "[e2e][repl][step]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local A = ochre.component "A" { fields = {}, create = function(self) print("making a") error("kaboom") end }
local B = ochre.component "B" { fields = { a = ochre.required }, create = function(self) print("making b") end }
local P = ochre.component "P" { fields = {}, create = function(self) return ochre.pending "waiting for approval" end }
return { B "b" { a = A "a" {} }, P "p" {} }
)");
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  const std::string a = "A/a/" + uuid_of(plan.out, "A/a") + ".create";
  const std::string p = "P/p/" + uuid_of(plan.out, "P/p") + ".create";
  Session s(dir, {"repl", "pipeline.lua"});
  CHECK(s.cmd("") == plan.out);
  auto said = s.cmd(":step");
  CHECK(said.rfind("step 0: " + a + " (new)\n[A/a] making a\nfailed: A/a: create failed: pipeline.lua:2: kaboom\n", 0) == 0);
  CHECK(said.find("ready now") == std::string::npos);
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|failed"});
  CHECK(s.cmd(":step") == "step 2: " + p + " (new)\n"
                          "pending: " + p + " (waiting for approval)\n"
                          "apply ended: 0 done, 1 failed, 1 skipped, 1 pending\n");
  CHECK(dir.query("SELECT key, status FROM instances ORDER BY key") == Rows{"A/a|failed", "P/p|pending"});
  auto jobs = dir.query("SELECT key, outcome FROM jobs ORDER BY key");
  CHECK(jobs == Rows{"A/a|failed", "B/b|skipped", "P/p|pending"});
  CHECK(s.finish().code == 0);
}

TEST_CASE("repl: :reload re-reads the file and plans again", "[e2e][repl][reload]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));

  SECTION("the file rewritten while the REPL waits for input, with an apply under way") {
    Session s(dir, {"repl", "pipeline.lua"});
    CHECK(s.cmd("") == plan.out);
    CHECK(s.cmd(":step").find("done: A/a/") != std::string::npos);
    dir.write("pipeline.lua", chain_with("n = 2 "));
    auto said = s.cmd(":reload");
    s.finish();
    auto now = table_of(dir.ochre({"plan", "pipeline.lua"}));
    CHECK(now.code == 0);
    // The apply under way ends, then the new plan: A/a (done already) is now an UPDATE.
    CHECK(said == "apply ended: 1 done, 2 skipped\n" + now.out);
    auto rows = plan_rows(now.out);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].key == "A/a");
    CHECK(rows[0].event == "UPDATE");
  }
  SECTION("the file rewritten by a Lua line of the session itself") {
    dir.write("next.lua", chain_with("", "", "size = 2, "));
    auto r = repl(dir, {"repl", "pipeline.lua"},
                  "local i = io.open(\"next.lua\") local f = io.open(\"pipeline.lua\", \"w\") "
                  "f:write(i:read(\"*a\")) f:close() i:close()\n"
                  ":reload\n"
                  "root\n");
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    auto now = table_of(dir.ochre({"plan", "pipeline.lua"}));
    CHECK(uuid_of(now.out, "C/c") != uuid_of(plan.out, "C/c"));
    CHECK(r.out == plan.out + now.out + "C/c/" + uuid_of(now.out, "C/c") + "\n");
  }
}

TEST_CASE("repl: a pipeline that does not load: errors, no plan, Lua still works, :reload once fixed",
          "[e2e][repl][errors]") {
  TempDir dir;
  dir.write("pipeline.lua", "local ochre = require \"ochre\"\nreturn ochre.Component \"x\" {\n");
  Session s(dir, {"repl", "pipeline.lua"});
  auto said = s.cmd("");
  CHECK(said.rfind("error: pipeline.lua:", 0) == 0);
  CHECK(count(said, "\n") == 1);
  for (const char* c : {":step", ":plan", ":graph", ":continue", ":explain A/a", ":skip A/a"}) {
    INFO(c);
    CHECK(s.cmd(c) == "no plan: fix the pipeline and :reload\n");
  }
  CHECK(s.cmd("6 * 7") == "42\n");
  CHECK(s.cmd(":reload").rfind("error: pipeline.lua:", 0) == 0);
  CHECK_FALSE(dir.has_state());

  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  CHECK(s.cmd(":reload") == plan.out);
  CHECK(s.cmd(":step").find("done: A/a/") != std::string::npos);
  CHECK(dir.query("SELECT key FROM instances") == Rows{"A/a"});
  CHECK(s.finish().code == 0);
}

TEST_CASE("repl: without a FILE the pipeline commands say how to start", "[e2e][repl][errors]") {
  TempDir dir;
  auto r = repl(dir, {"repl"}, ":step\n:plan\n:graph\n1 + 1\n");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  const std::string msg = "no pipeline: start with `ochre repl FILE`\n";
  CHECK(r.out == msg + msg + msg + "2\n");
  CHECK_FALSE(dir.exists(".ochre"));
}

TEST_CASE("repl: :state KEY and :history KEY say what ochre state show and ochre history say",
          "[e2e][repl]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  dir.write("pipeline.lua", chain_with("n = 2 "));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  Session s(dir, {"repl", "pipeline.lua"});
  CHECK(s.cmd("") == no_changes);
  auto show = dir.ochre({"state", "show", "A/a"});
  auto hist = dir.ochre({"history", "A/a"});
  REQUIRE(show.code == 0);
  REQUIRE(hist.code == 0);
  CHECK(s.cmd(":state A/a") == show.out);
  CHECK(s.cmd(":history A/a") == hist.out);
  CHECK(count(hist.out, "run ") == 2);
  CHECK(s.cmd(":state") == dir.ochre({"state", "list"}).out);
  CHECK(s.finish().code == 0);
}

TEST_CASE("repl on a terminal: prompt, Tab completion, line editing, history file", "[e2e][repl][tty]") {
  TempDir dir;
  dir.write("pipeline.lua", chain_with());
  auto plan = table_of(dir.ochre({"plan", "pipeline.lua"}));
  auto crlf = [](std::string s) {
    for (size_t p = s.find('\n'); p != std::string::npos; p = s.find('\n', p + 2)) s.replace(p, 1, "\r\n");
    return s;
  };
  const std::map<std::string, std::string> env = {
      {"TERM", "xterm"}, {"HOME", dir.path()}, {"OCHRE_HISTORY", dir.file("history")}};
  {
    ReplPty t(dir, {"repl", "pipeline.lua"}, env);
    REQUIRE(t.expect("ochre repl: Lua, or :help for commands\r\n"));
    REQUIRE(t.expect(crlf(plan.out)));
    REQUIRE(t.expect("ochre> "));

    // :pl + Tab completes to :plan.
    t.type(":pl\t");
    REQUIRE(t.expect("an "));
    t.type("\r");
    REQUIRE(t.expect(crlf(plan.out)));
    REQUIRE(t.expect("ochre> "));

    // A component key completes after a command.
    t.type(":explain A\t");
    REQUIRE(t.expect("/a "));
    t.type("\r");
    REQUIRE(t.expect("\r\nA/a: CREATE (new)\r\n"));
    REQUIRE(t.expect("ochre> "));

    // Left arrow: "10 5", back one, insert "* " -> "10 * 5".
    t.type("10 5\x1b[D* \r");
    REQUIRE(t.expect("\r\n50\r\n"));
    REQUIRE(t.expect("ochre> "));

    // A continued chunk gets the continuation prompt.
    t.type("function sq(n)\r");
    REQUIRE(t.expect("....> "));
    t.type("return n * n end\r");
    REQUIRE(t.expect("ochre> "));
    t.type("sq(12)\r");
    REQUIRE(t.expect("\r\n144\r\n"));
    REQUIRE(t.expect("ochre> "));

    // Ctrl-A: "* 7", to the start, "6 " -> "6 * 7".
    t.type("* 7\x01" "6 \r");
    REQUIRE(t.expect("\r\n42\r\n"));
    REQUIRE(t.expect("ochre> "));

    t.type("\x04");  // Ctrl-D on an empty line: the end
    INFO(t.all());
    CHECK(t.wait() == 0);
  }
  auto hist = history_lines(dir, "history");
  INFO([&] {
    std::string s;
    for (auto& l : hist) s += l + "\n";
    return s;
  }());
  CHECK(has(hist, "10 * 5"));
  CHECK(has(hist, "6 * 7"));
  CHECK(has(hist, "function sq(n)"));
  CHECK((has(hist, ":plan") || has(hist, ":plan ")));
  CHECK((has(hist, ":explain A/a") || has(hist, ":explain A/a ")));
  CHECK_FALSE(dir.exists(".ochre_history"));  // $OCHRE_HISTORY, not ~/.ochre_history

  // The next session reads the history: Up recalls the last line.
  {
    ReplPty t(dir, {"repl", "pipeline.lua"}, env);
    REQUIRE(t.expect("ochre> "));
    t.type("\x1b[A");
    REQUIRE(t.expect("6 * 7"));
    t.type("\r");
    REQUIRE(t.expect("\r\n42\r\n"));
    REQUIRE(t.expect("ochre> "));
    t.type(":quit\r");
    INFO(t.all());
    CHECK(t.wait() == 0);
  }
  // Without $OCHRE_HISTORY: ~/.ochre_history.
  {
    auto home_env = env;
    home_env.erase("OCHRE_HISTORY");
    ReplPty t(dir, {"repl"}, home_env);
    REQUIRE(t.expect("ochre> "));
    t.type("1 + 1\r");
    REQUIRE(t.expect("\r\n2\r\n"));
    REQUIRE(t.expect("ochre> "));
    t.type("\x04");
    CHECK(t.wait() == 0);
  }
  CHECK(has(history_lines(dir, ".ochre_history"), "1 + 1"));
}
