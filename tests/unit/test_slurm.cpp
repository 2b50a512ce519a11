// The Slurm executor against stand-in sbatch and squeue programs, for orderings a real
// cluster does not produce on demand.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/slurm.hpp"
#include "engine/state.hpp"
#include "unit/temp_state.hpp"
#include "unit/uv_loop.hpp"

using namespace ochre;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

size_t lines(const fs::path& p) {
  std::string s = slurp(p);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

void script(const fs::path& p, const std::string& body) {
  std::ofstream(p) << "#!/bin/sh\n" << body;
  fs::permissions(p, fs::perms::owner_all);
}

// PATH with the stand-ins first, restored at the end.
struct FakePath {
  std::string saved = getenv("PATH") ? getenv("PATH") : "";
  explicit FakePath(const fs::path& bin) { setenv("PATH", (bin.string() + ":" + saved).c_str(), 1); }
  ~FakePath() { setenv("PATH", saved.c_str(), 1); }
};

ClusterCommand command(const std::string& key, const fs::path& jobs) {
  ClusterCommand c;
  c.key = key;
  c.command = "true";
  c.dir = jobs.string();
  c.env = {std::string("PATH=") + getenv("PATH")};  // the submitting environment sbatch runs in
  return c;
}

// A state, a folder of stand-in programs first on PATH, with an sbatch that numbers
// its submissions 1, 2, ... in sbatch.log, and a folder for job directories.
struct Stand {
  TempState t;
  fs::path bin = t.dir / "bin", jobs = t.dir / "jobs";
  std::string d = t.dir.string();
  Stand() {
    fs::create_directories(bin);
    fs::create_directories(jobs);
    script(bin / "sbatch", "echo x >> " + d + "/sbatch.log\nwc -l < " + d + "/sbatch.log | tr -d ' '\n");
  }
};

}  // namespace

TEST_CASE("slurm: a job submitted while squeue runs is not judged by its answer (never submitted twice)",
          "[slurm]") {
  Stand stand;
  auto& [t, bin, jobs, d] = stand;
  // squeue: the first answer waits for the test (a FIFO) and knows job 1 only;
  // later ones know both jobs, running.
  REQUIRE(mkfifo((d + "/release").c_str(), 0600) == 0);
  script(bin / "squeue", "echo x >> " + d + "/squeue.log\n"
                         "if [ \"$(wc -l < " + d + "/squeue.log)\" -eq 1 ]; then cat " + d +
                             "/release > /dev/null; echo '1 RUNNING (null)'; exit 0; fi\n"
                             "echo '1 RUNNING (null)'; echo '2 RUNNING (null)'\n");
  FakePath path(bin);

  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  Loop l;
  SlurmTiming timing;
  timing.files = 0.01;
  timing.poll = 0.01;
  SlurmExecutor ex(&l.loop, [&] { return st.get(); }, timing);
  int done = 0;
  auto count = [&](ClusterResult r) {
    CHECK(r.error == "");
    ++done;
  };
  auto job_id = [&](const std::string& key) {
    auto s = st->submissions(key);
    return s.empty() ? std::string() : s[0].job_id;
  };

  ex.start(command("T/a", jobs), count);
  while (!fs::exists(d + "/squeue.log")) uv_run(&l.loop, UV_RUN_ONCE);  // job 1 submitted, squeue asked
  CHECK(job_id("T/a") == "1");
  ex.start(command("T/b", jobs), count);
  while (job_id("T/b").empty()) uv_run(&l.loop, UV_RUN_ONCE);  // job 2 accepted while squeue still runs
  CHECK(job_id("T/b") == "2");

  int fd = open((d + "/release").c_str(), O_WRONLY);  // squeue answers, without job 2
  REQUIRE(fd >= 0);
  close(fd);
  while (lines(d + "/squeue.log") < 2) uv_run(&l.loop, UV_RUN_ONCE);  // that answer was taken
  CHECK(lines(d + "/sbatch.log") == 2);

  // Both jobs end; each is collected once.
  for (const char* key : {"T/a", "T/b"}) std::ofstream(st->submissions(key)[0].dir + "/exit") << "0\n";
  while (done < 2) uv_run(&l.loop, UV_RUN_ONCE);
  CHECK(lines(d + "/sbatch.log") == 2);
  ex.close();
}

TEST_CASE("slurm: with no sbatch every job fails with the reason, the ones queued behind the first too",
          "[slurm]") {
  TempState t;
  Loop l;
  SlurmExecutor ex(&l.loop, [] { return nullptr; });
  std::vector<std::string> errors;
  for (int i = 0; i < 10; ++i) {
    ClusterCommand c = command("T/" + std::to_string(i), t.dir);
    c.env = {"PATH=" + (t.dir / "nothing").string()};
    ex.start(std::move(c), [&](ClusterResult r) { errors.push_back(r.error); });
  }
  uint64_t give_up = uv_now(&l.loop) + 10000;  // a job left queued would wait forever
  while (errors.size() < 10 && uv_now(&l.loop) < give_up) uv_run(&l.loop, UV_RUN_ONCE);
  REQUIRE(errors.size() == 10);
  for (const std::string& e : errors) CHECK(e.find("sbatch") != std::string::npos);
  ex.close();
}

TEST_CASE("slurm: a job given up on because squeue fails stays journaled, and the next run re-attaches to it",
          "[slurm]") {
  Stand stand;
  auto& [t, bin, jobs, d] = stand;
  script(bin / "squeue", "echo 'squeue: error: Unable to contact slurm controller' >&2\nexit 1\n");
  FakePath path(bin);
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  SlurmTiming timing;
  timing.files = 0.01;
  timing.poll = 0.01;
  timing.give_up = 0.05;
  {
    Loop l;
    SlurmExecutor ex(&l.loop, [&] { return st.get(); }, timing);
    std::string error;
    ex.start(command("T/a", jobs), [&](ClusterResult r) { error = r.error; });
    while (error.empty()) uv_run(&l.loop, UV_RUN_ONCE);
    CHECK(error.find("Unable to contact slurm controller") != std::string::npos);
    ex.hook_ended("T/a");  // the hook failed with it
    REQUIRE(st->submissions("T/a").size() == 1);
    CHECK(st->submissions("T/a")[0].job_id == "1");
    ex.close();
  }
  // The controller is back; the job ran meanwhile. The next run takes it, submitting nothing.
  script(bin / "squeue", "echo '1 COMPLETED (null)'\n");
  std::ofstream(st->submissions("T/a")[0].dir + "/exit") << "0\n";
  Loop l;
  SlurmExecutor ex(&l.loop, [&] { return st.get(); }, timing);
  bool done = false;
  ex.start(command("T/a", jobs), [&](ClusterResult r) {
    CHECK(r.error == "");
    CHECK(r.job_id == "1");
    done = true;
  });
  while (!done) uv_run(&l.loop, UV_RUN_ONCE);
  CHECK(lines(d + "/sbatch.log") == 1);
  ex.hook_ended("T/a");
  CHECK(st->submissions("T/a").empty());
  ex.close();
}
