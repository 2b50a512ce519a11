// Every example in examples/, run as a user would: copied to a temporary directory, run
// twice (the second run does nothing), changed in one way and run again (exactly the
// expected jobs), then destroyed (the state is empty and the files it made are gone).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

namespace fs = std::filesystem;
using e2e::TempDir;
using Jobs = std::vector<std::string>;

namespace {

const char* const no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

void copy_example(const TempDir& dir, const std::string& name) {
  fs::path src = fs::path(OCHRE_EXAMPLES) / name;
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    fs::path rel = fs::relative(e.path(), src);
    if (*rel.begin() == ".ochre") continue;
    if (e.is_directory()) fs::create_directories(dir.file(rel.string()));
    else fs::copy_file(e.path(), dir.file(rel.string()));
  }
}

// Every file and directory under `dir` but the state, sorted.
std::vector<std::string> listing(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    std::string rel = fs::relative(e.path(), dir.path()).string();
    if (rel.rfind(".ochre", 0) != 0) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The planned jobs of a run as "EVENT Type/identifier", sorted.
Jobs jobs(const e2e::Result& r) {
  Jobs out;
  for (const auto& row : e2e::plan_rows(r.out)) out.push_back(row.event + " " + row.key);
  std::sort(out.begin(), out.end());
  return out;
}

Jobs sorted(Jobs j) {
  std::sort(j.begin(), j.end());
  return j;
}

// Replaces the first `from` in file `name` with `to` (the text must be there).
void edit(const TempDir& dir, const std::string& name, const std::string& from, const std::string& to) {
  std::string text = dir.read(name);
  auto p = text.find(from);
  REQUIRE(p != std::string::npos);
  dir.write(name, text.replace(p, from.size(), to));
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Runs it twice: the plan creates `created`, then nothing is left to do.
void first_runs(const TempDir& dir, const Jobs& created) {
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(jobs(r) == sorted(created));
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out == no_changes);
}

// Destroys it; the state is empty and the directory holds what `before` lists.
void destroy_leaves(const TempDir& dir, std::vector<std::string> before) {
  auto r = dir.ochre({"destroy", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(dir.query("SELECT count(*) FROM instances") == std::vector<std::string>{"0"});
  std::sort(before.begin(), before.end());
  CHECK(listing(dir) == before);
}

}  // namespace

TEST_CASE("example processor: create, nothing, update, destroy", "[examples]") {
  TempDir dir;
  copy_example(dir, "processor");
  auto before = listing(dir);
  first_runs(dir, {"CREATE Component/sub", "CREATE MyProcessor/test"});
  edit(dir, "pipeline.lua", "label = \"test\"", "label = \"other\"");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(jobs(r) == Jobs{"UPDATE MyProcessor/test"});
  CHECK(has(r.out, "UPDATE test: label test -> other"));
  destroy_leaves(dir, before);
}

TEST_CASE("example images: a changed step re-runs itself and its dependents, old outputs kept",
          "[examples]") {
  TempDir dir;
  copy_example(dir, "images");
  auto before = listing(dir);
  first_runs(dir, {"CREATE Step/download", "CREATE Step/blur", "CREATE Step/edge", "CREATE Step/collage"});
  auto outputs = [&] { return dir.query("SELECT key, outputs FROM instances ORDER BY key"); };
  auto first = outputs();

  edit(dir, "pipeline.lua", "EDGE_THRESHOLD = 40", "EDGE_THRESHOLD = 150");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(jobs(r) == Jobs{"UPDATE Step/collage", "UPDATE Step/edge"});
  auto second = outputs();
  CHECK(first[0] == second[0]);  // blur: untouched
  CHECK(first[2] == second[2]);  // download: untouched
  // Content-addressed outputs: new versions beside the old ones.
  int edges = 0, collages = 0;
  for (const auto& e : fs::directory_iterator(dir.file("out"))) {
    std::string name = e.path().filename().string();
    edges += name.rfind("edge-", 0) == 0;
    collages += name.rfind("collage-", 0) == 0;
    CHECK(std::regex_match(name, std::regex("(download|blur|edge|collage)-[0-9a-f]{12}\\.pgm")));
  }
  CHECK(edges == 2);
  CHECK(collages == 2);

  // Editing a step's script re-runs it too.
  edit(dir, "blur.awk", "# A box blur", "# A box blur (edited)\n#");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(jobs(r) == Jobs{"UPDATE Step/blur", "UPDATE Step/collage"});
  before = listing(dir);
  before.erase(std::remove_if(before.begin(), before.end(), [](const std::string& p) { return p.rfind("out", 0) == 0; }),
               before.end());
  destroy_leaves(dir, before);
}

TEST_CASE("example backup: the transfer stays pending until approved, then goes on", "[examples]") {
  TempDir dir;
  copy_example(dir, "backup");
  auto before = listing(dir);
  auto approval = [](const std::string& out) {
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("touch (approvals/backup-[0-9a-f]{12}\\.tar\\.gz\\.ok)")));
    return m[1].str();
  };

  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(jobs(r) == sorted({"CREATE Folder/data", "CREATE Archive/data", "CREATE Transfer/data", "CREATE Command/notify"}));
  CHECK(has(r.out, "1 pending, 1 waiting"));
  std::string ok_file = approval(r.out);
  CHECK_FALSE(dir.exists("secure"));

  r = dir.ochre({"run", "pipeline.lua"});  // not approved yet: asks again, nothing else
  CHECK(r.code == 0);
  CHECK(jobs(r) == Jobs{"CREATE Command/notify", "CREATE Transfer/data"});
  CHECK(has(r.out, "1 pending, 1 waiting"));

  dir.write(ok_file, "");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(jobs(r) == Jobs{"CREATE Command/notify", "CREATE Transfer/data"});
  CHECK(has(r.out, "2 done"));
  CHECK(dir.lines("outbox/notifications.txt").size() == 1);
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.out == no_changes);

  // A new file: a new archive, which needs its own approval.
  dir.write("data/new.txt", "new\n");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(jobs(r) == sorted({"UPDATE Folder/data", "UPDATE Archive/data", "UPDATE Transfer/data", "UPDATE Command/notify"}));
  std::string ok2 = approval(r.out);
  CHECK(ok2 != ok_file);
  dir.write(ok2, "");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(jobs(r) == Jobs{"UPDATE Command/notify", "UPDATE Transfer/data"});
  CHECK(dir.lines("outbox/notifications.txt").size() == 2);
  CHECK(fs::exists(dir.file("secure/" + ok_file.substr(10, ok_file.size() - 13))));  // the first copy is kept

  before.insert(before.end(), {"data/new.txt", "approvals", ok_file, ok2});
  destroy_leaves(dir, before);
}

TEST_CASE("example watch: the summary runs once 3 new files have arrived", "[examples]") {
  TempDir dir;
  copy_example(dir, "watch");
  auto before = listing(dir);
  first_runs(dir, {"CREATE Folder/inbox", "CREATE Summary/inbox"});
  CHECK(dir.exists("summaries/summary-001.txt"));

  dir.write("inbox/a.txt", "alpha\n");
  dir.write("inbox/b.txt", "beta gamma\n");
  auto r = dir.ochre({"run", "pipeline.lua"});
  CHECK(r.out == no_changes);

  dir.write("inbox/c.txt", "delta\n");
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(jobs(r) == Jobs{"UPDATE Folder/inbox", "UPDATE Summary/inbox"});
  CHECK(has(r.out, "summarised 3 new files into summaries/summary-002.txt"));
  auto summary = dir.read("summaries/summary-002.txt");
  CHECK(has(summary, "3 new files in inbox"));
  CHECK(has(summary, "b.txt"));
  CHECK(has(summary, "2 words"));
  CHECK_FALSE(has(summary, "monday.txt"));

  before.insert(before.end(), {"inbox/a.txt", "inbox/b.txt", "inbox/c.txt"});
  destroy_leaves(dir, before);
}

TEST_CASE("example search_index: an edited document is the only one re-indexed", "[examples]") {
  TempDir dir;
  copy_example(dir, "search_index");
  auto before = listing(dir);
  first_runs(dir, {"CREATE SqliteTable/documents", "CREATE SearchIndex/documents"});
  auto search = [&](const std::string& word) {
    return dir.query("SELECT id FROM documents_fts WHERE documents_fts MATCH '" + word + "' ORDER BY id",
                     "library.db");
  };
  CHECK(search("water") == std::vector<std::string>{"sourdough", "tap"});

  edit(dir, "articles/tap.txt", "washer", "cartridge");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(jobs(r) == Jobs{"UPDATE SearchIndex/documents", "UPDATE SqliteTable/documents"});
  CHECK(has(r.out, "documents: 1 rows written, 0 deleted"));
  CHECK(has(r.out, "re-indexed 1 of 5 documents, removed 0"));
  CHECK(search("cartridge") == std::vector<std::string>{"tap"});
  CHECK(search("washer").empty());

  destroy_leaves(dir, before);
}

TEST_CASE("example train: a worse model is evaluated but not deployed", "[examples]") {
  TempDir dir;
  copy_example(dir, "train");
  auto before = listing(dir);
  first_runs(dir, {"CREATE Features/houses", "CREATE Model/price", "CREATE Evaluation/price",
                   "CREATE Deployment/price"});
  std::string deployed = dir.read("deployed/model.json");

  edit(dir, "pipeline.lua", "epochs = 300, lambda", "epochs = 5, lambda");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(jobs(r) == Jobs{"UPDATE Deployment/price", "UPDATE Evaluation/price", "UPDATE Model/price"});
  CHECK(has(r.out, "kept the deployed model"));
  CHECK(dir.read("deployed/model.json") == deployed);

  destroy_leaves(dir, before);
}

TEST_CASE("example ops: the reload runs only when the config changed", "[examples]") {
  TempDir dir;
  copy_example(dir, "ops");
  auto before = listing(dir);
  first_runs(dir, {"CREATE Dir/etc", "CREATE Dir/myapp", "CREATE Dir/log", "CREATE Template/app.conf",
                   "CREATE Template/logging.conf", "CREATE File/myapp.service", "CREATE Command/reload"});
  CHECK(has(dir.read("root/etc/myapp/app.conf"), "workers = 4"));
  CHECK(dir.lines("root/var/log/myapp-reloads.log").size() == 1);

  edit(dir, "pipeline.lua", "workers = 4", "workers = 8");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  CHECK(jobs(r) == Jobs{"UPDATE Command/reload", "UPDATE Template/app.conf"});
  CHECK(has(dir.read("root/etc/myapp/app.conf"), "workers = 8"));
  CHECK(dir.lines("root/var/log/myapp-reloads.log").size() == 2);

  edit(dir, "pipeline.lua", "\"My app\"", "\"My application\"");
  r = dir.ochre({"run", "pipeline.lua"});
  CHECK(jobs(r) == Jobs{"UPDATE File/myapp.service"});
  CHECK(has(dir.read("root/etc/systemd/myapp.service"), "Description=My application"));
  CHECK(dir.lines("root/var/log/myapp-reloads.log").size() == 2);

  destroy_leaves(dir, before);
}

TEST_CASE("example data: one run settles, an edit reruns only its chain, an edit the cleaning drops stops there",
          "[examples][deferred]") {
  TempDir dir;
  copy_example(dir, "data");
  auto before = listing(dir);
  first_runs(dir, {"CREATE Csv/customers", "CREATE Csv/sales", "CREATE Command/clean-customers",
                   "CREATE Command/clean-sales", "CREATE Load/customers", "CREATE Load/sales",
                   "CREATE Index/search"});
  CHECK(dir.query("SELECT count(*) FROM sales", "warehouse.db") == std::vector<std::string>{"3"});

  // A change the cleaning keeps: its chain runs, the other file's does not.
  edit(dir, "raw/sales.csv", "router", "switch");
  auto r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(jobs(r) == sorted({"UPDATE Csv/sales", "UPDATE Command/clean-sales", "UPDATE Load/sales",
                           "UPDATE Index/search"}));
  CHECK(has(r.out, "[Load/sales] loaded 3 rows into sales"));
  CHECK(!has(r.out, "into customers"));
  CHECK(has(r.out, "[Index/search] indexed 6 rows"));
  CHECK(has(r.out, "4 done\n"));
  CHECK(dir.query("SELECT name FROM sales WHERE id = 's3'", "warehouse.db") == std::vector<std::string>{"switch"});
  r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.out == no_changes);

  // A change the cleaning drops: the cleaned file comes out the same, and it stops there.
  std::string clean = dir.bytes("clean/sales.csv");
  dir.write("raw/sales.csv", dir.read("raw/sales.csv") + "# a comment the cleaning drops\n");
  r = dir.ochre({"run", "pipeline.lua"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(jobs(r) == sorted({"UPDATE Csv/sales", "UPDATE Command/clean-sales", "UPDATE Load/sales",
                           "UPDATE Index/search"}));
  CHECK(!has(r.out, "loaded"));
  CHECK(!has(r.out, "indexed"));
  CHECK(has(r.out, "unchanged: Load/sales/"));
  CHECK(has(r.out, "2 done, 2 unchanged\n"));
  CHECK(dir.bytes("clean/sales.csv") == clean);
  r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.out == no_changes);
  r = dir.ochre({"log"});
  CHECK(has(r.out, "cutoff: the outputs of Command/clean-sales did not change"));
  r = dir.ochre({"history", "Load/sales"});
  CHECK(has(r.out, "cutoff"));

  // The produced files go with their Commands; the database file and the folder stay.
  before.push_back("clean");
  before.push_back("warehouse.db");
  destroy_leaves(dir, before);
}
