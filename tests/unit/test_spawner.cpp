// The fork server's client (engine/spawner.*) with the real server: commands held until
// their jobs' starts are durable, sealed ones let go from another thread, kills asked
// before a command's pid is known. Each command says it ran by writing a file.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/spawner.hpp"
#include "unit/temp_state.hpp"
#include "unit/uv_loop.hpp"

extern char** environ;

using namespace ochre;

namespace {

// The parent of process `pid` (from /proc), or 0.
int parent_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');  // the name, in parentheses, may hold spaces
  int ppid = 0;
  if (close != std::string::npos) std::sscanf(stat.c_str() + close + 2, "%*c %d", &ppid);
  return ppid;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Ran {
  int pid = 0;
  bool exited = false;
  int64_t code = -1;
  int signal = -1;
};

struct Stand {
  TempState dir;
  Loop loop;
  std::unique_ptr<Spawner> spawner;
  std::vector<std::string> env;
  std::string cwd;

  explicit Stand(unsigned servers = 0)
      : spawner(std::make_unique<Spawner>(&loop.loop, OCHRE_SPAWN_HELPER, servers)) {
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
  }
  ~Stand() { spawner.reset(); }

  std::string file(const std::string& name) const { return dir.dir.string() + "/" + name; }
  bool exists(const std::string& name) const { return access(file(name).c_str(), F_OK) == 0; }

  // Starts `cmd`; its output goes nowhere.
  int64_t spawn(const std::string& cmd, Ran& ran) {
    int out = open("/dev/null", O_WRONLY | O_CLOEXEC), err = open("/dev/null", O_WRONLY | O_CLOEXEC);
    return spawner->spawn({cmd, env, cwd, -1, out, err}, [&ran](int pid) { ran.pid = pid; },
                          [&ran](int64_t code, int signal) {
                            ran.exited = true;
                            ran.code = code;
                            ran.signal = signal;
                          });
  }

  // Turns the loop until `done`, failing after 10 s. The guard's timer keeps the loop
  // waiting as the scheduler's own handles do when the Spawner has nothing it waits for.
  void run_until(const std::function<bool()>& done) {
    uv_timer_t guard;
    bool late = false;
    uv_timer_init(&loop.loop, &guard);
    guard.data = &late;
    uv_timer_start(&guard, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 10000, 0);
    while (!done() && !late) uv_run(&loop.loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop.loop, UV_RUN_NOWAIT);
    REQUIRE_FALSE(late);
  }
};

}  // namespace

TEST_CASE("held commands start only when let go: sealed ones from another thread, the rest at the hold's end",
          "[spawner]") {
  Stand s;
  s.spawner->hold(true);
  Ran a, b;
  REQUIRE(s.spawn("touch " + s.file("a"), a) > 0);
  s.spawner->seal();  // a's job's start is written; b's is not yet
  REQUIRE(s.spawn("touch " + s.file("b"), b) > 0);
  // Nothing went: the loop has nothing to wait for, and neither command ran.
  CHECK(uv_run(&s.loop.loop, UV_RUN_NOWAIT) == 0);
  CHECK_FALSE(s.exists("a"));
  std::thread([&] { s.spawner->send_sealed(); }).join();  // as the committer does
  s.run_until([&] { return a.exited; });
  CHECK(a.code == 0);
  CHECK(a.pid > 0);
  CHECK(s.exists("a"));
  CHECK_FALSE(s.exists("b"));
  CHECK_FALSE(b.exited);
  s.spawner->hold(false);
  s.run_until([&] { return b.exited; });
  CHECK(b.code == 0);
  CHECK(s.exists("b"));
  CHECK(s.spawner->idle());
}

TEST_CASE("a kill asked before the command's pid is known kills it once it is", "[spawner]") {
  Stand s;
  Ran r;
  int64_t t = s.spawn("exec sleep 30", r);
  REQUIRE(t > 0);
  s.spawner->kill(t);  // sent, not started yet as far as ochre knows
  CHECK(r.pid == 0);
  s.run_until([&] { return r.exited; });
  CHECK(r.pid > 0);
  CHECK(r.signal == SIGKILL);
}

TEST_CASE("a command held then forgotten never runs", "[spawner]") {
  Stand s;
  s.spawner->hold(true);
  Ran r;
  int64_t t = s.spawn("touch " + s.file("never"), r);
  REQUIRE(t > 0);
  s.spawner->kill(t);
  s.spawner->forget(t);
  s.spawner->hold(false);
  CHECK(s.spawner->idle());
  // A command sent after it runs: had the first gone, it would have run before.
  Ran after;
  REQUIRE(s.spawn("touch " + s.file("after"), after) > 0);
  s.run_until([&] { return after.exited; });
  CHECK(s.exists("after"));
  CHECK_FALSE(s.exists("never"));
  CHECK_FALSE(r.exited);
}

TEST_CASE("a directory that does not exist fails the spawn at once and closes the command's ends",
          "[spawner]") {
  Stand s;
  s.cwd = s.file("missing");
  Ran r;
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  int64_t t = s.spawner->spawn({"true", s.env, s.cwd, -1, fds[1], fds[1]}, [](int) {}, [](int64_t, int) {});
  CHECK(t == -ENOENT);
  char c;
  CHECK(read(fds[0], &c, 1) == 0);  // every write end closed: end of file
  close(fds[0]);
}

TEST_CASE("commands sent together go to several servers, each started once the others are busy starting",
          "[spawner]") {
  Stand s(3);
  std::vector<Ran> ran(7);
  for (size_t i = 0; i < ran.size(); ++i)
    REQUIRE(s.spawn("echo $PPID > " + s.file("parent" + std::to_string(i)), ran[i]) > 0);
  s.run_until([&] {
    for (const Ran& r : ran)
      if (!r.exited) return false;
    return true;
  });
  std::set<std::string> parents;
  for (size_t i = 0; i < ran.size(); ++i) {
    CHECK(ran[i].code == 0);
    parents.insert(read_text(s.file("parent" + std::to_string(i))));
  }
  CHECK(parents.size() == 3);
  CHECK(parents.count(std::to_string(getpid()) + "\n") == 0);  // a server is each one's parent

  // One at a time, commands need no more than one server: they all go to the same.
  std::set<std::string> one_by_one;
  for (int i = 0; i < 3; ++i) {
    Ran r;
    REQUIRE(s.spawn("echo $PPID > " + s.file("alone"), r) > 0);
    s.run_until([&] { return r.exited; });
    one_by_one.insert(read_text(s.file("alone")));
  }
  CHECK(one_by_one.size() == 1);
}

TEST_CASE("a server that dies takes only its own commands with it: the others finish, and it starts again",
          "[spawner]") {
  Stand s(2);
  Ran a, b;
  REQUIRE(s.spawn("exec sleep 30", a) > 0);
  REQUIRE(s.spawn("sleep 0.3", b) > 0);  // the first server is busy starting a: the second takes it
  s.run_until([&] { return a.pid > 0 && b.pid > 0; });
  int server_a = parent_of(a.pid), server_b = parent_of(b.pid);
  REQUIRE(server_a > 0);
  REQUIRE(server_b > 0);
  CHECK(server_a != server_b);
  REQUIRE(kill(server_a, SIGKILL) == 0);
  s.run_until([&] { return a.exited; });
  CHECK(a.signal == SIGKILL);
  CHECK_FALSE(b.exited);
  s.run_until([&] { return b.exited; });
  CHECK(b.code == 0);
  CHECK(b.signal == 0);
  // Two sent together need both servers again: the dead one is started anew.
  Ran c, d;
  REQUIRE(s.spawn("echo $PPID > " + s.file("c"), c) > 0);
  REQUIRE(s.spawn("echo $PPID > " + s.file("d"), d) > 0);
  s.run_until([&] { return c.exited && d.exited; });
  CHECK(c.code == 0);
  CHECK(d.code == 0);
  std::string pc = read_text(s.file("c")), pd = read_text(s.file("d"));
  CHECK(pc != pd);
  CHECK(pc != std::to_string(server_a) + "\n");
  CHECK(pd != std::to_string(server_a) + "\n");
  CHECK(s.spawner->idle());
}
