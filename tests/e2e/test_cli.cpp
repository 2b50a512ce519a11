// The command line as people and scripts meet it: what a plan says under its table and
// its exit code, options per command, --json streams, the question before deleting, the
// terminal (colour and the live line only there, never wrapping), the shell completion,
// and the README's example outputs.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/harness.hpp"
#include "e2e/pty.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

const char* const service = R"(local ochre = require "ochre"
local S = ochre.component "Service" {
  fields = { port = 8080, image = "pg:15", conf = "a\nb\nc" },
  breaks = { "image" },
  create = function(self) print("up " .. self.identifier) end,
  update = function(self) print("changed " .. self.identifier) end,
  delete = function(self) print("down " .. self.identifier) end,
}
local env = ochre.env
return { S "api" { port = tonumber(os.getenv("PORT") or "8080"), image = os.getenv("IMAGE") or "pg:15",
                   conf = os.getenv("CONF") or "a\nb\nc" },
         S "db" {} }
)";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("plan lists each change under the table, ends with the counts, and --exit-code says whether "
          "there is anything to do",
          "[e2e][cli][plan]") {
  TempDir dir;
  dir.write("pipeline.lua", service);
  auto env = dir.state_env();
  auto r = dir.ochre({"plan", "pipeline.lua", "--exit-code"}, env);
  CHECK(r.code == 1);
  CHECK(count(r.out, "\n+ Service/api (new)\n+ Service/db (new)\n\nPlan: 2 to create, 0 to update, 0 to replace, "
                     "0 to delete.\n") == 1);
  r = dir.ochre({"run", "pipeline.lua"}, env);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "Plan: 2 to create, 0 to update, 0 to replace, 0 to delete.\n2 done\n") == 0);
  CHECK(count(r.out, "Plan: 2 to create, 0 to update, 0 to replace, 0 to delete.\n") == 1);
  r = dir.ochre({"plan", "pipeline.lua", "--exit-code"}, env);
  CHECK(r.code == 0);
  CHECK(r.out == "No changes needed \xe2\x80\x93 doing nothing!\n");
  r = dir.ochre({"plan", "pipeline.lua"}, env);
  CHECK(r.code == 0);

  env["PORT"] = "9090";
  r = dir.ochre({"plan", "pipeline.lua", "--exit-code"}, env);
  CHECK(r.code == 1);
  CHECK(count(r.out, "\n~ Service/api (changed: port)\n  ~ port: 8080 -> 9090\n\nPlan: 0 to create, 1 to update, "
                     "0 to replace, 0 to delete.\n") == 1);
  env["IMAGE"] = "pg:16";
  env["CONF"] = "a\nB\nc";
  r = dir.ochre({"plan", "pipeline.lua"}, env);
  INFO(r.out);
  CHECK(count(r.out, "-/+ Service/api (replace: breaking field image changed)\n") == 1);
  CHECK(count(r.out, "  ~ conf: 3 lines -> 3 lines, from line 2\n      - \"b\"\n      + \"B\"\n") == 1);
  CHECK(count(r.out, "  ~ image: \"pg:15\" -> \"pg:16\"  [breaking]\n") == 1);
  CHECK(count(r.out, "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete.\n") == 1);
  // The table's rows stay as they were.
  CHECK(count(r.out, "| 0 | DELETE     | Service/api/") == 1);
  // A broken pipeline keeps exit 2 with --exit-code.
  dir.write("broken.lua", "return nil +");
  CHECK(dir.ochre({"plan", "broken.lua", "--exit-code"}, env).code == 2);
}

TEST_CASE("each command takes its own options: another command's is refused naming it, a misspelt one "
          "gets a suggestion, COMMAND --help shows the command's",
          "[e2e][cli][options]") {
  TempDir dir;
  dir.write("pipeline.lua", service);
  auto env = dir.state_env();
  auto r = dir.ochre({"plan", "pipeline.lua", "--port", "5"}, env);
  CHECK(r.code == 2);
  CHECK(r.err == "error: option --port is not an option of 'plan': it belongs to 'serve' (see 'ochre plan --help')\n");
  r = dir.ochre({"plan", "pipeline.lua", "--every", "3s"}, env);
  CHECK(r.code == 2);
  CHECK(count(r.err, "it belongs to 'watch'") == 1);
  r = dir.ochre({"run", "pipeline.lua", "--exlude", "Service/db"}, env);
  CHECK(r.code == 2);
  CHECK(r.err == "error: unknown option '--exlude'; did you mean '--exclude'? (see 'ochre run --help')\n");
  CHECK_FALSE(dir.has_state());

  r = dir.ochre({"run", "--help"});
  CHECK(r.code == 0);
  CHECK(r.out.rfind("usage: ochre run FILE [OPTIONS]\n", 0) == 0);
  CHECK(count(r.out, "  -y, --yes ") == 1);
  CHECK(count(r.out, "--port") == 0);
  r = dir.ochre({"serve", "-h"});
  CHECK(r.out.rfind("usage: ochre serve [FILE] [OPTIONS]\n", 0) == 0);
  CHECK(count(r.out, "  --port N ") == 1);
  r = dir.ochre({"--help"});
  CHECK(r.out.rfind("usage: ochre COMMAND [OPTIONS] ...\n", 0) == 0);
  // Options before the command are the command's.
  r = dir.ochre({"--color", "never", "plan", "pipeline.lua", "--exit-code"}, env);
  CHECK(r.code == 1);
}

TEST_CASE("run --json and destroy --json stream one JSON object a line, and apply", "[e2e][cli][json]") {
  TempDir dir;
  dir.write("pipeline.lua", std::string(service) + "-- \xff\n");
  auto env = dir.state_env();
  auto r = dir.ochre({"run", "pipeline.lua", "--json"}, env);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  std::vector<nlohmann::json> events;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  REQUIRE(events.size() == 9);  // started, plan, 2 x (started, output, finished), finished
  CHECK(events.front()["type"] == "run.started");
  CHECK(events[1]["type"] == "plan");
  CHECK(events[1]["plan"]["jobs"].size() == 2);
  int started = 0, outputs = 0, finished = 0;
  for (const auto& e : events) {
    started += e["type"] == "job.started";
    outputs += e["type"] == "job.output" && (e["line"] == "up api" || e["line"] == "up db");
    finished += e["type"] == "job.finished" && e["outcome"] == "done";
  }
  CHECK(started == 2);
  CHECK(outputs == 2);
  CHECK(finished == 2);
  CHECK(events.back()["type"] == "run.finished");
  CHECK(events.back()["done"] == 2);
  CHECK(events.back()["exit_code"] == 0);
  CHECK(dir.ochre({"plan", "pipeline.lua", "--exit-code"}, env).code == 0);  // it applied

  r = dir.ochre({"destroy", "pipeline.lua", "--json"}, env);
  REQUIRE(r.code == 0);
  std::istringstream lines(r.out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) CHECK_NOTHROW(nlohmann::json::parse(line));
  CHECK(n == 9);  // started, plan, 2 x (started, output, finished), finished
  CHECK(count(r.out, "\"type\":\"run.finished\"") == 1);
}

TEST_CASE("on a terminal: destroy asks before deleting, --yes does not, and the answer no changes nothing",
          "[e2e][cli][terminal][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", service);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  {
    e2e::Pty t(dir.path(), {"destroy", "pipeline.lua"});
    REQUIRE(t.wait_for("Delete 2 components? [y/N] "));
    t.type("n\n");
    CHECK(t.wait() == 1);
    CHECK(count(t.output(), "  - Service/api\r\n") == 1);
    CHECK(count(t.output(), "nothing was changed") == 1);
  }
  CHECK(dir.query("SELECT count(*) FROM instances") == std::vector<std::string>{"2"});
  {
    e2e::Pty t(dir.path(), {"destroy", "pipeline.lua"});
    REQUIRE(t.wait_for("Delete 2 components? [y/N] "));
    t.type("y\n");
    CHECK(t.wait() == 0);
    CHECK(count(t.output(), "2 done") == 1);
  }
  CHECK(dir.query("SELECT count(*) FROM instances") == std::vector<std::string>{"0"});
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  {
    e2e::Pty t(dir.path(), {"destroy", "pipeline.lua", "-y"});
    CHECK(t.wait() == 0);
    CHECK(count(t.output(), "[y/N]") == 0);
  }
  // A run that replaces asks too; one that only creates does not.
  {
    e2e::Pty t(dir.path(), {"run", "pipeline.lua"});
    CHECK(t.wait() == 0);
    CHECK(count(t.output(), "[y/N]") == 0);
  }
  {
    e2e::Pty t(dir.path(), {"run", "pipeline.lua"}, 80, "", {{"IMAGE", "pg:16"}});
    REQUIRE(t.wait_for("Delete 1 component? [y/N] "));
    CHECK(count(t.output(), "  - Service/api (to be replaced)\r\n") == 1);
    t.type("y\n");
    CHECK(t.wait() == 0);
  }
  // Without a terminal it never asks (the harness runs ochre on pipes).
  auto r = dir.ochre({"destroy", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(count(r.out, "[y/N]") == 0);
}

TEST_CASE("colour and the live line only where the stream is a terminal, the live line within its width",
          "[e2e][cli][terminal][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", R"(local ochre = require "ochre"
local W = ochre.component "Waiter" {
  fields = {},
  create = function(self) ochre.wait_file("go") end,
}
local F = ochre.component "Failer" { fields = {}, create = function() error("no luck") end }
return { W "a-rather-long-identifier-to-make-the-line-long" {}, F "f" {} }
)");
  // stdout to a file, stderr on a terminal 40 columns wide.
  e2e::Pty t(dir.path(), {"run", "pipeline.lua", "-j", "2"}, 40, "out.txt");
  REQUIRE(t.wait_for(" running"));
  dir.write("go", "");
  CHECK(t.wait() == 1);
  std::string out = slurp(dir.file("out.txt"));
  INFO(out << "\n---\n" << t.output());
  CHECK(out.find('\x1b') == std::string::npos);  // the file gets no escapes
  CHECK(count(out, "1 done, 1 failed\n") == 1);
  CHECK(count(t.output(), "\x1b[31merror: \x1b[0m") == 1);  // the terminal gets colour
  // Each drawing of the live line ("\r\x1b[K" then the text) is under 40 columns.
  int drawn = 0;
  for (size_t at = t.output().find("\r\x1b[K["); at != std::string::npos; at = t.output().find("\r\x1b[K[", at + 1)) {
    size_t end = t.output().find_first_of("\r\n", at + 1);
    std::string line = t.output().substr(at + 4, end == std::string::npos ? std::string::npos : end - at - 4);
    CHECK(line.size() < 40);
    ++drawn;
  }
  CHECK(drawn > 0);
}

TEST_CASE("bash completion: commands, a command's options, keys from the state", "[e2e][cli][completion][sqlite]") {
  TempDir dir;
  dir.write("pipeline.lua", service);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  auto complete = [&](const std::string& words, int cword) {
    std::string script = ". " OCHRE_SOURCE "/cli/completion/ochre.bash; COMP_WORDS=(\"$OCHRE\" " + words +
                         "); COMP_CWORD=" + std::to_string(cword) + "; _ochre; printf '%s\\n' \"${COMPREPLY[@]}\"";
    return dir.run({"/bin/bash", "-c", script}).out;
  };
  CHECK(complete("pl", 1) == "plan\n");
  CHECK(complete("plan --exi", 2) == "--exit-code\n");
  CHECK(complete("state show Service/", 3) == "Service/api\nService/db\n");
  CHECK(complete("run pipeline.lua --target Service/a", 4) == "Service/api\n");
}

TEST_CASE("the README's example outputs are what ochre prints", "[e2e][cli][readme][sqlite]") {
  // A block marked `<!-- output: examples/DIR -->` is replayed in a copy of that example:
  // each "$ " line runs (ochre is this build), and what it prints must be the lines after
  // it. `<!-- output: examples/DIR, after: COMMAND -->` runs COMMAND first.
  std::string readme = slurp(OCHRE_SOURCE "/README.md");
  const std::string mark = "<!-- output: ";
  int blocks = 0;
  for (size_t at = readme.find(mark); at != std::string::npos; at = readme.find(mark, at + 1)) {
    std::string example = readme.substr(at + mark.size(), readme.find(" -->", at) - at - mark.size());
    size_t open = readme.find("```\n", at) + 4;
    std::string block = readme.substr(open, readme.find("```\n", open) - open);
    INFO(example << "\n" << block);
    std::string setup;
    if (size_t comma = example.find(", after: "); comma != std::string::npos) {
      setup = example.substr(comma + 9);
      example.resize(comma);
    }
    TempDir dir;
    std::filesystem::copy(OCHRE_SOURCE "/" + example, dir.path(), std::filesystem::copy_options::recursive);
    std::istringstream in(block);
    std::string command = setup, expected, line;
    bool setting_up = !setup.empty();
    auto check = [&] {
      if (command.empty()) return;
      std::string sh = command;
      for (size_t p = sh.find("ochre "); p != std::string::npos; p = sh.find("ochre ", p + 9))
        sh.replace(p, 6, "\"$OCHRE\" ");
      auto r = dir.run({"/bin/sh", "-c", sh});
      INFO(command);
      if (setting_up) REQUIRE(r.code == 0);
      else CHECK(r.out == expected);
      setting_up = false;
    };
    while (std::getline(in, line)) {
      if (line.rfind("$ ", 0) == 0) {
        check();
        command = line.substr(2);
        expected.clear();
      } else {
        expected += line + "\n";
      }
    }
    check();
    ++blocks;
  }
  CHECK(blocks >= 2);
}
