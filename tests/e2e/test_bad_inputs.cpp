// Bad pipelines and bad command lines: each is exit 2 with one line on stderr that names
// the user's file:line where there is one, and the state is left byte for byte as it was.
// Add a case by adding a row to `cases`.
#include <catch2/catch.hpp>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

// Where the message must point.
enum class Where {
  None,  // nowhere in particular (a command line, a missing file)
  File,  // pipeline.lua, any line
  Line,  // pipeline.lua:N:, N the line marked `-- HERE`
};

struct Case {
  const char* name;
  const char* lua;                // the body after `prelude`; empty: keep the good pipeline
  std::vector<std::string> args;  // empty: run pipeline.lua
  int code;
  const char* expect;  // in the first line of stderr
  Where where;
};

const std::string prelude = R"(local ochre = require "ochre"
local Model = ochre.component "Model" { fields = { model = "base", source = ochre.required, size = 1 } }
)";
const std::string good = prelude + "return Model \"m\" { source = \"data\" }\n";

const std::vector<Case> cases = {
    {"Lua syntax error", R"(local x = = 1 -- HERE
return Model "m" { source = "data" })", {}, 2, "'='", Where::Line},
    {"runtime error at load", R"(local cfg = nil
local size = cfg.size -- HERE
return Model "m" { source = "data", size = size })", {}, 2, "attempt to index", Where::Line},
    {"error() at load", R"(error("no config found") -- HERE
return Model "m" { source = "data" })", {}, 2, "no config found", Where::Line},
    {"unknown field", R"(local m = Model "m" { modle = "x", source = "data" } -- HERE
return m)", {}, 2, "did you mean 'model'", Where::Line},
    {"unknown field in the returned declaration",
     R"(return Model "m" { modle = "x", source = "data" } -- HERE)", {}, 2, "did you mean 'model'",
     Where::Line},
    {"unknown field in a declaration over several lines", R"(local m = Model "m" { -- HERE
  source = "data",
  modle = "x",
}
return m)", {}, 2, "did you mean 'model'", Where::Line},
    {"unknown field set after declaration", R"(local m = Model "m" { source = "data" }
m.modle = "x" -- HERE
return m)", {}, 2, "did you mean 'model'", Where::Line},
    {"missing required field", R"(local m = Model "m" { size = 2 } -- HERE
return m)", {}, 2, "'source'", Where::Line},
    {"missing required field in the returned declaration", R"(return Model "m" { size = 2 } -- HERE)", {},
     2, "'source'", Where::Line},
    {"a function in a field", R"(local m = Model "m" { source = function() end } -- HERE
return m)", {}, 2, "function", Where::Line},
    {"a userdata in a field", R"(local m = Model "m" { source = io.stdout } -- HERE
return m)", {}, 2, "userdata", Where::Line},
    {"a userdata set after declaration", R"(local m = Model "m" { source = "data" }
m.source = io.stdout -- HERE
return m)", {}, 2, "userdata", Where::Line},
    {"a cyclic table in a field", R"(local t = { name = "loop" }
t.again = t
local m = Model "m" { source = t } -- HERE
return m)", {}, 2, "cycle", Where::Line},
    {"NaN in a field", R"(local m = Model "m" { source = 0/0 } -- HERE
return m)", {}, 2, "NaN", Where::Line},
    {"math.huge in a field", R"(local m = Model "m" { source = "data", size = math.huge } -- HERE
return m)", {}, 2, "infinite", Where::Line},
    {"-math.huge deep in a field", R"(local m = Model "m" { source = { 1, { -math.huge } } } -- HERE
return m)", {}, 2, "infinite", Where::Line},
    {"a number as identifier", R"(local m = Model(42) { source = "data" } -- HERE
return m)", {}, 2, "identifier", Where::Line},
    {"an empty identifier", R"(local m = Model "" { source = "data" } -- HERE
return m)", {}, 2, "identifier", Where::Line},
    {"a pipeline returning nothing", R"(local m = Model "m" { source = "data" })", {}, 2, "must return",
     Where::File},
    {"a pipeline returning a string", R"(return "m")", {}, 2, "must return", Where::File},
    {"a pipeline returning an empty list", R"(return {})", {}, 2, "must return", Where::File},
    {"a dependency cycle made by mutating a field", R"(local a = Model "a" { source = "data" }
local b = Model "b" { source = a }
a.source = b -- HERE
return b)", {}, 2, "cycle", Where::File},
    {"an unknown CLI flag", "", {"run", "pipeline.lua", "--frobnicate"}, 2, "--frobnicate", Where::None},
    {"an unknown command", "", {"frobnicate", "pipeline.lua"}, 2, "frobnicate", Where::None},
    {"no command", "", {"--state", ".ochre/state.db"}, 2, "command", Where::None},
    {"run without a file", "", {"run"}, 2, "FILE", Where::None},
    {"a missing file", "", {"run", "missing.lua"}, 2, "missing.lua", Where::None},
    {"a directory given as file", "", {"run", "adir"}, 2, "adir", Where::None},
    {"plan with a directory", "", {"plan", "adir"}, 2, "adir", Where::None},
};

}  // namespace

TEST_CASE("bad pipelines and command lines: exit 2, one line, state unchanged", "[e2e][bad-inputs]") {
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      TempDir dir;
      dir.write("pipeline.lua", good);
      dir.write("adir/readme.txt", "a directory, not a pipeline");
      auto r = dir.ochre({"run", "pipeline.lua"});
      REQUIRE(r.code == 0);
      REQUIRE(dir.exists(".ochre/state.db"));
      const std::string state = dir.bytes(".ochre/state.db");
      const std::string wal = dir.bytes(".ochre/state.db-wal");

      std::string text = std::string(c.lua).empty() ? good : prelude + c.lua + "\n";
      dir.write("pipeline.lua", text);
      r = dir.ochre(c.args.empty() ? std::vector<std::string>{"run", "pipeline.lua"} : c.args);
      INFO("stdout: " << r.out);
      INFO("stderr: " << r.err);
      CHECK(r.code == c.code);
      CHECK(r.out.empty());
      CHECK(count(r.err, "\n") == 1);
      CHECK((!r.err.empty() && r.err.back() == '\n'));
      std::string line = e2e::first_line(r.err);
      CHECK(line.rfind("error: ", 0) == 0);
      CHECK(line.find(c.expect) != std::string::npos);
      if (c.where == Where::File) CHECK(line.find("pipeline.lua") != std::string::npos);
      if (c.where == Where::Line) {
        int n = e2e::line_of(text, "-- HERE");
        REQUIRE(n > 0);
        CHECK(line.find("pipeline.lua:" + std::to_string(n) + ":") != std::string::npos);
      }
      CHECK(line.find("stack traceback") == std::string::npos);
      CHECK((dir.bytes(".ochre/state.db") == state));
      CHECK((dir.bytes(".ochre/state.db-wal") == wal));
      CHECK_FALSE(dir.exists("adir/.ochre"));
    }
  }
}

TEST_CASE("a bad pipeline with no state yet creates no state", "[e2e][bad-inputs]") {
  TempDir dir;
  dir.write("pipeline.lua", prelude + "local m = Model \"m\" { modle = 1, source = \"x\" }\nreturn m\n");
  for (const char* command : {"run", "plan", "destroy"}) {
    auto r = dir.ochre({command, "pipeline.lua"});
    INFO(command << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find("did you mean 'model'") != std::string::npos);
    CHECK_FALSE(dir.exists(".ochre"));
  }
}
