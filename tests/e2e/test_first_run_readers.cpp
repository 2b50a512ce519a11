// Readers racing the first run, the one that creates the state: `log`, `state list`,
// `state show` and `plan` see the state empty or whole, never a SQL error ("no such
// table") or "not an ochre state". Once with the run held inside its first hook, then
// with readers started together with fresh first runs, many times over.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

// The first hook says it started, then waits on the FIFO "gate" until the test opens it.
const std::string held_pipeline = R"(local ochre = require "ochre"
local Model = ochre.component "Model" {
  fields = { source = ochre.required },
  create = function(self)
    local f = io.open("started", "a")
    f:write("started\n")
    f:close()
    ochre.sh("cat gate")
  end,
}
return { Model "a" { source = "data" }, Model "b" { source = "data" } }
)";

const std::string quick_pipeline = R"(local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { source = ochre.required }, create = function(self) end }
return { Model "a" { source = "data" }, Model "b" { source = "data" } }
)";

// Opens the FIFO at `path` for writing and closes it, once a reader has it open: the
// reader sees its end. False when none opened it in 20 s.
bool open_gate(const std::string& path) {
  bool done = false;
  e2e::wait_until([&] {
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    ::close(fd);
    return done = true;
  });
  return done;
}

const Rows readers[] = {{"log"}, {"state", "list"}, {"state", "show", "Model/a"}, {"plan", "p.lua"}};

// A reader's answer on a state that is empty, being written or whole: exit 0 (`state
// show` of a key not stored yet: exit 2 saying so), and what it shows is one of those.
void sensible(const Rows& args, const e2e::Result& r) {
  INFO("ochre " << args[0] << (args.size() > 1 ? " " + args[1] : "") << ": exit " << r.code << "\n"
                << r.out << r.err);
  CHECK(r.err.find("no such table") == std::string::npos);
  CHECK(r.err.find("not an ochre state") == std::string::npos);
  CHECK(r.err.find("SQL") == std::string::npos);
  if (args[0] == "log") {
    CHECK(r.code == 0);
    CHECK((r.out == "No runs yet.\n" || r.out.rfind("run 1 ", 0) == 0));
  } else if (args[0] == "plan") {
    CHECK(r.code == 0);
    CHECK((r.out.find("Plan: ") != std::string::npos || r.out.find("No changes needed") != std::string::npos));
  } else if (args[1] == "list") {
    CHECK(r.code == 0);
    CHECK((r.out == "The state is empty.\n" || r.out.rfind("KEY ", 0) == 0));
  } else {
    bool shown = r.code == 0 && r.out.find("Model/a") != std::string::npos;
    bool not_yet = r.code == 2 && r.err.find("Model/a") != std::string::npos && e2e::count(r.err, "\n") == 1;
    CHECK((shown || not_yet));
  }
}

}  // namespace

TEST_CASE("readers while the first run is inside its first hook see the state, never an error",
          "[e2e][first-run][readers]") {
  TempDir dir;
  dir.write("p.lua", held_pipeline);
  REQUIRE(mkfifo(dir.file("gate").c_str(), 0600) == 0);
  auto run = dir.start({"run", "p.lua", "-j", "1"});
  auto hooks_started = [&](size_t n) { return e2e::wait_until([&] { return dir.lines("started").size() >= n; }); };
  REQUIRE(hooks_started(1));
  for (const Rows& args : readers) sensible(args, dir.ochre(args));
  // Let the hooks go, one after the other: each `cat` ends when the gate's writer closes.
  REQUIRE(open_gate(dir.file("gate")));
  REQUIRE(hooks_started(2));
  REQUIRE(open_gate(dir.file("gate")));
  auto r = run->wait();
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  for (const Rows& args : readers) sensible(args, dir.ochre(args));
}

TEST_CASE("readers started with the first run, many times over: the state empty or whole, never an error",
          "[e2e][first-run][readers]") {
  TempDir dir;
  dir.write("p.lua", quick_pipeline);
  const int rounds = e2e::postgres_backend() ? 12 : 40;
  int reads = 0;
  for (int round = 0; round < rounds; ++round) {
    dir.forget_state();
    auto run = dir.start({"run", "p.lua"});
    // Readers in batches, each of the four kinds twice at once, until the run ended:
    // some meet no state, some the state being created, some the run's writes.
    do {
      std::vector<std::pair<Rows, std::unique_ptr<e2e::Process>>> started;
      for (int twice = 0; twice < 2; ++twice)
        for (const Rows& args : readers) started.emplace_back(args, dir.start(args));
      for (auto& [args, p] : started) sensible(args, p->wait());
      reads += static_cast<int>(started.size());
    } while (run->running());
    auto r = run->wait();
    INFO("round " << round << ": " << r.out << r.err);
    REQUIRE(r.code == 0);
  }
  CHECK(reads >= rounds * 8);
}
