// What the pipeline FILE may be besides a file: a FIFO is read once and works (plan, run,
// destroy, the REPL), or is refused where the command reads it again (watch, serve); a
// directory or a device is refused with a clear line, exit 2. Nothing may hang: every
// ochre here runs under a guard that fails the test and kills it.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::TempDir;
using Rows = std::vector<std::string>;

namespace {

const std::string pipeline = R"(local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { source = ochre.required } }
return Model "m" { source = "data" }
)";

// Writes `text` once into the FIFO at `path` when a reader opens it, from a thread of
// its own; gives up after a few seconds without a reader (nothing blocks for good).
class FifoWriter {
 public:
  FifoWriter(std::string path, std::string text)
      : thread_([path = std::move(path), text = std::move(text), this] {
          auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          int fd = -1;
          while ((fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ENXIO &&
                 std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
          if (fd < 0) return;
          ::fcntl(fd, F_SETFL, 0);
          written_ = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
          ::close(fd);
        }) {}
  ~FifoWriter() {
    if (thread_.joinable()) thread_.join();
  }
  bool written() {
    if (thread_.joinable()) thread_.join();
    return written_;
  }

 private:
  bool written_ = false;
  std::thread thread_;
};

// Runs ochre with a guard: fails the test (and kills it) when it has not ended in 10 s.
e2e::Result guarded(const TempDir& dir, const Rows& args) {
  auto p = dir.start(args);
  bool ended = e2e::wait_until([&] { return !p->running(); }, 10);
  INFO("ochre " << args[0] << " hung on the pipeline; its output so far: " << p->out_so_far() << p->err_so_far());
  REQUIRE(ended);
  return p->wait();
}

}  // namespace

TEST_CASE("a FIFO as the pipeline is read once: plan, run, destroy and the REPL work, never hang",
          "[e2e][pipeline-file]") {
  TempDir dir;
  REQUIRE(mkfifo(dir.file("p.lua").c_str(), 0600) == 0);
  const std::pair<Rows, std::string> steps[] = {
      {{"plan", "p.lua"}, "Model/m"},
      {{"run", "p.lua"}, "Model/m"},
      {{"plan", "p.lua"}, "No changes needed"},
      {{"repl", "p.lua"}, "No changes needed"},
      {{"destroy", "p.lua", "--yes"}, "Model/m"},
  };
  for (const auto& [args, says] : steps) {
    INFO("ochre " << args[0]);
    FifoWriter writer(dir.file("p.lua"), pipeline);
    auto r = guarded(dir, args);
    INFO(r.out << r.err);
    CHECK(writer.written());
    CHECK(r.code == 0);
    CHECK(r.out.find(says) != std::string::npos);
  }
  // The state beside it, like any pipeline's; the destroy left nothing.
  CHECK(dir.query("SELECT count(*) FROM instances") == Rows{"0"});
}

TEST_CASE("a FIFO is refused by the commands that read the pipeline again, at once", "[e2e][pipeline-file]") {
  TempDir dir;
  REQUIRE(mkfifo(dir.file("p.lua").c_str(), 0600) == 0);
  for (auto [args, verb] : {std::pair{Rows{"watch", "p.lua"}, "watch"}, std::pair{Rows{"serve", "p.lua"}, "serve"}}) {
    auto r = guarded(dir, args);
    INFO(r.out << r.err);
    CHECK(r.code == 2);
    CHECK(r.err == std::string("error: cannot ") + verb + " a FIFO ('p.lua'): 'ochre " + verb +
                       "' reads the pipeline more than once; give a Lua file\n");
    CHECK(r.out.empty());
  }
  CHECK_FALSE(dir.has_state());
}

TEST_CASE("a directory or a device as the pipeline: one clear line, exit 2, nothing written",
          "[e2e][pipeline-file]") {
  TempDir dir;
  dir.write("sub/keep", "");
  const std::pair<std::string, std::string> cases[] = {
      {"sub", "error: cannot read pipeline 'sub': it is a directory\n"},
      {"/dev/null", "error: cannot read pipeline '/dev/null': it is not a file (a device or a socket); give a Lua file\n"},
      {"/dev/zero", "error: cannot read pipeline '/dev/zero': it is not a file (a device or a socket); give a Lua file\n"},
  };
  for (const auto& [file, want] : cases)
    for (const char* command : {"plan", "run", "watch"}) {
      INFO(command << " " << file);
      auto r = guarded(dir, {command, file});
      CHECK(r.code == 2);
      CHECK(r.err == want);
    }
  CHECK_FALSE(dir.has_state());
}
