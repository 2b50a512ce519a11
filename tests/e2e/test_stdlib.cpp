// Runs the stdlib's Lua tests (tests/lua/test_*.lua) through the real binary. Each is a
// list of steps (see tests/lua/steps.lua): every step is one `ochre run` whose plan, exit
// code and output are compared with what the file wrote into .test/expect, and whose
// checks run at the next load; then `ochre destroy`, then a load that checks the world
// is clean, and the state must be empty.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

namespace fs = std::filesystem;
using e2e::TempDir;

namespace {

struct Expect {
  int step = 0, steps = 0, code = 0;
  std::string name;
  bool any_plan = false;
  std::vector<std::string> plan, out;
};

Expect read_expect(const TempDir& dir) {
  Expect e;
  for (const auto& line : dir.lines(".test/expect")) {
    auto sp = line.find(' ');
    std::string k = line.substr(0, sp), v = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (k == "step") e.step = std::stoi(v);
    else if (k == "steps") e.steps = std::stoi(v);
    else if (k == "code") e.code = std::stoi(v);
    else if (k == "name") e.name = v;
    else if (k == "plan" && v == "*") e.any_plan = true;
    else if (k == "plan") e.plan.push_back(v);
    else if (k == "out") e.out.push_back(v);
  }
  std::sort(e.plan.begin(), e.plan.end());
  return e;
}

std::vector<std::string> planned(const std::string& out) {
  std::vector<std::string> jobs;
  for (const auto& r : e2e::plan_rows(out)) jobs.push_back(r.event + " " + r.key);
  std::sort(jobs.begin(), jobs.end());
  return jobs;
}

void check_run(const e2e::Result& r, const Expect& e) {
  CHECK(r.code == e.code);
  if (!e.any_plan) {
    CHECK(planned(r.out) == e.plan);
    if (e.plan.empty()) CHECK(r.out.find("No changes needed") != std::string::npos);
  }
  for (const auto& o : e.out) CHECK((r.out + r.err).find(o) != std::string::npos);
}

void run_lua_test(const std::string& file) {
  TempDir dir;
  for (const auto& entry : fs::directory_iterator(OCHRE_LUA_TESTS))
    if (entry.path().extension() == ".lua") fs::copy_file(entry.path(), dir.file(entry.path().filename()));
  auto at = [](int step) { return std::map<std::string, std::string>{{"OCHRE_TEST_STEP", std::to_string(step)}}; };

  int steps = 0;
  for (int step = 1; steps == 0 || step <= steps; ++step) {
    auto r = dir.ochre({"run", file}, at(step));
    Expect e = read_expect(dir);
    INFO(file << " step " << step << " (" << e.name << "), exit " << r.code << "\n" << r.out << r.err);
    REQUIRE(e.step == step);  // else the load failed: a check of the step before
    check_run(r, e);
    steps = e.steps;
  }
  auto r = dir.ochre({"destroy", file}, at(steps + 1));
  Expect e = read_expect(dir);
  {
    INFO(file << " destroy, exit " << r.code << "\n" << r.out << r.err);
    REQUIRE(e.step == steps + 1);
    check_run(r, e);
  }
  r = dir.ochre({"plan", file}, at(steps + 2));
  INFO(file << " after destroy\n" << r.out << r.err);
  CHECK(read_expect(dir).step == steps + 2);
  CHECK(dir.query("SELECT count(*) FROM instances") == std::vector<std::string>{"0"});
}

}  // namespace

TEST_CASE("stdlib Lua tests: every tests/lua/test_*.lua has a case here", "[stdlib]") {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(OCHRE_LUA_TESTS)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("test_", 0) == 0 && entry.path().extension() == ".lua") files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"test_command.lua", "test_dir.lua", "test_file.lua",
                                          "test_folder.lua", "test_helpers.lua",
                                          "test_sqlite_table.lua", "test_template.lua"});
}

TEST_CASE("stdlib File: create, drift repaired, mode, replace, destroy", "[stdlib]") {
  run_lua_test("test_file.lua");
}

TEST_CASE("stdlib Dir: nested create, drift repaired, only made dirs removed", "[stdlib]") {
  run_lua_test("test_dir.lua");
}

TEST_CASE("stdlib Template: rendering, unknown names, vars and inputs, drift", "[stdlib]") {
  run_lua_test("test_template.lua");
}

TEST_CASE("stdlib Command: commands, env, cwd, outputs, failures, delete", "[stdlib]") {
  run_lua_test("test_command.lua");
}

TEST_CASE("stdlib SqliteTable: schema, rows in sync by key, replace, drift", "[stdlib]") {
  run_lua_test("test_sqlite_table.lua");
}

TEST_CASE("stdlib Folder: files and hashes, min_new, new files downstream", "[stdlib]") {
  run_lua_test("test_folder.lua");
}

TEST_CASE("stdlib helpers: env, log, render, sqlite, quote, errors at the caller's line", "[stdlib]") {
  run_lua_test("test_helpers.lua");
}

TEST_CASE("stdlib docs: every ochre.X name is in docs/ochre.d.lua and docs/stdlib.md", "[stdlib]") {
  fs::path root = fs::path(OCHRE_EXAMPLES).parent_path();
  auto slurp = [&](const char* rel) {
    std::ifstream in(root / rel);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::string defs = slurp("docs/ochre.d.lua"), doc = slurp("docs/stdlib.md");
  std::vector<std::string> names;
  std::string index = slurp("stdlib/index.lua"), dsl = slurp("bindings/dsl.lua");
  std::regex exported(R"(\n  (\w+) = ")"), module_name(R"(\nM\.(\w+) = |\nfunction M\.(\w+)\()");
  for (std::sregex_iterator it(index.begin(), index.end(), exported), end; it != end; ++it)
    names.push_back((*it)[1]);
  size_t from_index = names.size();
  for (std::sregex_iterator it(dsl.begin(), dsl.end(), module_name), end; it != end; ++it)
    names.push_back((*it)[1].matched ? (*it)[1] : (*it)[2]);
  REQUIRE(from_index >= 10);
  REQUIRE(names.size() >= from_index + 10);
  for (size_t i = 0; i < names.size(); ++i) {
    INFO("ochre." << names[i]);
    CHECK(std::regex_search(defs, std::regex("(function |\\n)ochre\\." + names[i] + "\\b")));
    if (i < from_index) CHECK(doc.find(names[i]) != std::string::npos);
  }
}
