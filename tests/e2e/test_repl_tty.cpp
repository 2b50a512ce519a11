// `ochre repl` on a terminal, as someone at it: the pipeline's module, types, instances
// and top-level locals at hand, and Ctrl-C cancelling a line, a chunk, running Lua or an
// apply while the REPL goes on. Driven through a real pseudo-terminal, never slept on.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "e2e/harness.hpp"
#include "e2e/repl_pty.hpp"

using ReplPty = e2e::ReplPty;
using e2e::TempDir;

namespace {

const std::map<std::string, std::string> tty_env(const TempDir& dir) {
  return {{"TERM", "xterm"}, {"HOME", dir.path()}, {"OCHRE_HISTORY", dir.file("history")}};
}

}  // namespace

TEST_CASE("repl on a terminal: ochre is a global, and types, instances and the file's locals are at hand",
          "[e2e][repl][tty]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local Service = require("ochre").component "Service" {
  fields = { port = 80 },
  create = function(self) end,
}
local port = 8080
local api = Service "api" { port = port }
return api
)");
  ReplPty t(dir, {"repl", "pipeline.lua"}, tty_env(dir));
  REQUIRE(t.expect("ochre> "));
  t.type("type(ochre.component)\r");
  REQUIRE(t.expect("\r\n\"function\"\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("types.Service.name\r");
  REQUIRE(t.expect("\r\n\"Service\"\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("instances[\"Service/api\"].port\r");
  REQUIRE(t.expect("\r\n8080\r\n"));
  REQUIRE(t.expect("ochre> "));
  // The file's top-level locals: read, and assigned (the REPL's copy).
  t.type("port + 1\r");
  REQUIRE(t.expect("\r\n8081\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("api == instances[\"Service/api\"], Service == types.Service\r");
  REQUIRE(t.expect("\r\ntrue\ttrue\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("port = 9\r");
  REQUIRE(t.expect("ochre> "));
  t.type("port, rawget(_G, \"port\")\r");
  REQUIRE(t.expect("\r\n9\tnil\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("\x04");
  INFO(t.all());
  CHECK(t.wait() == 0);
}

TEST_CASE("repl on a terminal: Ctrl-C cancels the line, the chunk at ....>, and running Lua, and the REPL goes on",
          "[e2e][repl][tty][sigint]") {
  TempDir dir;
  ReplPty t(dir, {"repl"}, tty_env(dir));
  REQUIRE(t.expect("ochre> "));
  // A line being typed.
  t.type("1 + ");
  REQUIRE(t.expect("1 + "));
  t.type("\x03");
  REQUIRE(t.expect("^C\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("2 + 3\r");
  REQUIRE(t.expect("\r\n5\r\n"));
  REQUIRE(t.expect("ochre> "));
  // A chunk under way, at the continuation prompt: dropped, not continued.
  t.type("function f()\r");
  REQUIRE(t.expect("....> "));
  t.type("\x03");
  REQUIRE(t.expect("^C\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("f == nil\r");
  if (!t.expect("\r\ntrue\r\n")) FAIL(t.all());
  REQUIRE(t.expect("ochre> "));
  // Lua that runs on: stopped at its next call. It says so once it has gone round.
  t.type("n = 0 while true do n = n + #tostring(n) if n == 1 then print(\"spinning\") end end\r");
  REQUIRE(t.expect("spinning\r\n"));
  t.press("\x03");
  REQUIRE(t.expect("error: interrupted"));
  REQUIRE(t.expect("ochre> "));
  t.type("n > 0\r");
  REQUIRE(t.expect("\r\ntrue\r\n"));
  REQUIRE(t.expect("ochre> "));
  t.type("\x04");
  INFO(t.all());
  CHECK(t.wait() == 0);
}

TEST_CASE("repl on a terminal: Ctrl-C during :continue stops it as it stops run, and the REPL goes on",
          "[e2e][repl][tty][sigint]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local Slow = ochre.component "Slow" {
  fields = { after = false },
  create = function(self)
    print("started " .. self.identifier)
    ochre.sleep(300)  -- in Lua: the terminal's Ctrl-C reaches no command
  end,
}
local a = Slow "a" {}
return Slow "b" { after = a }
)");
  ReplPty t(dir, {"repl", "pipeline.lua"}, tty_env(dir));
  REQUIRE(t.expect("ochre> "));
  t.type(":continue\r");
  REQUIRE(t.expect("[Slow/a] started a\r\n"));
  t.press("\x03");
  REQUIRE(t.expect("Interrupted: no new jobs start"));
  t.press("\x03");
  INFO(t.all());
  REQUIRE(t.expect("Interrupted again: killing the running jobs"));
  REQUIRE(t.expect("ochre> "));
  INFO(t.all());
  CHECK(t.all().find("started b") == std::string::npos);
  CHECK(t.last().find("interrupted") != std::string::npos);
  t.type("1 + 1\r");
  REQUIRE(t.expect("\r\n2\r\n"));
  REQUIRE(t.expect("ochre> "));
  // What the Ctrl-C left is planned again.
  t.type(":plan\r");
  REQUIRE(t.expect("Slow/a/"));
  REQUIRE(t.expect("ochre> "));
  t.type("\x04");
  CHECK(t.wait() == 0);
}
