// The ochre program itself: what it loads to start, and its HTTP module (ochre-http.so),
// loaded only to serve or to deliver a notification, and missed with a clear message.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"
#include "e2e/receiver.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

const char* const one_component = R"(local ochre = require "ochre"
return ochre.component "T" { fields = { n = 0 }, create = function() end } "t" { n = 1 })";

// The shared objects the dynamic loader opened for a process, from LD_DEBUG=files (the
// program's own libraries and what it dlopen()s later), by file name.
std::vector<std::string> loaded(const std::string& debug_output) {
  std::vector<std::string> out;
  std::istringstream in(debug_output);
  for (std::string line; std::getline(in, line);) {
    auto at = line.find("file=");
    auto end = line.find(" [", at);
    if (at == std::string::npos || end == std::string::npos || line.find("needed by") == std::string::npos &&
                                                                     line.find("dynamically loaded by") ==
                                                                         std::string::npos)
      continue;
    std::string name = std::filesystem::path(line.substr(at + 5, end - at - 5)).filename().string();
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

bool has(const std::vector<std::string>& names, const std::string& prefix) {
  for (const auto& n : names)
    if (n.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("a run loads neither HTTP nor, in the static program, any library but the C library's",
          "[e2e][program][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", one_component);
  for (int pass = 0; pass < 2; ++pass) {  // the first apply, then the no-op
    auto r = dir.ochre({"run", "pipeline.lua"}, {{"LD_DEBUG", "files"}});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto libs = loaded(r.err);
    CAPTURE(libs);
    CHECK(has(libs, "libc.so"));
    CHECK_FALSE(has(libs, "ochre-http.so"));
    CHECK_FALSE(has(libs, "libcpp-httplib"));
    CHECK_FALSE(has(libs, "libssl"));
    CHECK_FALSE(has(libs, "libpq"));
    if (OCHRE_PROGRAM_STATIC) {
      for (const char* lib : {"libluajit", "libsqlite3", "libuv", "libcrypto", "libedit", "libstdc++", "libjemalloc"})
        CHECK_FALSE(has(libs, lib));
    }
  }
}

TEST_CASE("the HTTP module is loaded to deliver a notification and to serve", "[e2e][program][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", one_component);
  e2e::Receiver hook;
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url()},
                     {{"LD_DEBUG", "files"}, {"OCHRE_NOTIFY_SECRET", "s3cret"}});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(has(loaded(r.err), "ochre-http.so"));
  CHECK(hook.requests().size() == 2);  // run.started, run.finished

  auto p = dir.start({"serve", "pipeline.lua", "--port", "0"}, {{"LD_DEBUG", "files"}});
  REQUIRE(e2e::wait_until([&] { return p->out_so_far().find("Serving ") != std::string::npos || !p->running(); }));
  p->signal(SIGTERM);
  auto s = p->wait();
  INFO(s.out << s.err);
  CHECK(s.code == 0);
  CHECK(has(loaded(s.err), "ochre-http.so"));
}

TEST_CASE("a copy of ochre without its HTTP module runs pipelines, and says what is missing to serve or notify",
          "[e2e][program]") {
  const std::string installed = OCHRE_HTTP_MODULE_INSTALLED;
  if (std::filesystem::exists(installed)) {
    WARN("ochre is installed on this machine (" << installed << "): a copy would find its module there");
    return;
  }
  TempDir dir;
  dir.write("pipeline.lua", one_component);
  REQUIRE(dir.run({"/bin/mkdir", "bin"}).code == 0);
  REQUIRE(dir.run({"/bin/cp", OCHRE_BIN, dir.file("bin/ochre")}).code == 0);
  const std::string ochre = dir.file("bin/ochre");

  auto r = dir.run({ochre, "run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(count(r.out, "1 done") == 1);

  // Serving needs the module: exit 2, naming where it was looked for.
  r = dir.run({ochre, "serve", "pipeline.lua", "--port", "0"});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(e2e::first_line(r.err) ==
        "error: cannot serve on 127.0.0.1:0: ochre's HTTP module is missing (looked for " + dir.file("bin/ochre-http.so") +
            ", " + std::filesystem::path(dir.file("bin/" OCHRE_HTTP_MODULE_FROM_BIN)).lexically_normal().string() +
            ", " + installed + "): reinstall ochre");

  // A notification waits in the outbox, with the reason, for a run that can send it.
  e2e::Receiver hook;
  std::string changed = one_component;
  changed.replace(changed.find("n = 1"), 5, "n = 2");
  dir.write("pipeline.lua", changed);
  r = dir.run({ochre, "run", "pipeline.lua", "--notify", hook.url()}, {{"OCHRE_NOTIFY_SECRET", "s3cret"}});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("notifications not delivered yet (http://127.0.0.1:" + std::to_string(hook.port()) +
                   ": ochre's HTTP module is missing") !=
        std::string::npos);
  CHECK(hook.requests().empty());
  r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url()}, {{"OCHRE_NOTIFY_SECRET", "s3cret"}});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("not delivered") == std::string::npos);
  CHECK(hook.requests().size() == 2);
}
