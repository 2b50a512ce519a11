// ochre::StateReader (ochre/state.hpp): the state read without its lock, as `ochre serve`
// reads it while another ochre applies.
#include <catch2/catch.hpp>

#include <filesystem>

#include "engine/state.hpp"
#include "ochre/errors.hpp"
#include "ochre/state.hpp"
#include "unit/temp_state.hpp"

using namespace ochre;

TEST_CASE("a StateReader reads what is committed while another holds the lock, and creates nothing",
          "[state]") {
  TempState t;
  {
    StateReader missing(t.path());
    CHECK(missing.stored().empty());
    CHECK(missing.runs(0).empty());
    CHECK(missing.history("T/a", true) == "[]\n");
  }
  CHECK_FALSE(std::filesystem::exists(t.path()));

  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  StoredInstance a;
  a.key = "T/a";
  a.type = "T";
  a.identifier = "a";
  a.uuid = "0123456789abcdef";
  a.hash = std::string(64, 'a');
  a.fields = {{"identifier", Value::of_string("a")}, {"token", Value::of_string("s3cret")}};
  a.deps = {"T/child"};
  a.sensitive = {"token"};
  long long run = st->begin_run({"apply", "/p.lua"});
  st->job_started(run, 0, Action::Create, a);
  auto lock = lock_state(t.path(), default_workspace, 0);  // an apply under way

  StateReader reader(t.path());
  auto stored = reader.stored();
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].key == "T/a");
  CHECK(stored[0].status == "running");
  CHECK(stored[0].deps == std::vector<std::string>{"T/child"});
  auto runs = reader.runs(1);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].id == run);
  CHECK(runs[0].ended.empty());
  auto jobs = reader.jobs_of_run(run);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].key == "T/a");
  CHECK(jobs[0].action == "create");
  CHECK(jobs[0].ended.empty());
  std::string shown = reader.show("T/a", true);
  CHECK(shown.find("\"status\":\"running\"") != std::string::npos);
  CHECK(shown.find("(sensitive)") != std::string::npos);
  CHECK(shown.find("s3cret") == std::string::npos);
  CHECK(reader.log(10, false).find("apply") != std::string::npos);
  try {
    reader.show("T/nowhere", false);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Code::UnknownKey);
  }
}
