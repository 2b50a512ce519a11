// Notifications: webhooks named by --notify or ochre.notify get the events of each apply,
// signed with HMAC-SHA256 of their secret; events wait in the state's outbox until a 2xx
// answer, across a receiver that is down, answers 500 or hangs, and across runs. Every
// receiver here is a real HTTP server on 127.0.0.1 (e2e/receiver.hpp).
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"
#include "e2e/receiver.hpp"

using e2e::Receiver;
using e2e::TempDir;
using json = nlohmann::json;
using Rows = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

namespace {

const std::string secret = "correct-horse-battery-staple";
const Env with_secret = {{"OCHRE_NOTIFY_SECRET", secret}};

// Two components; the second fails its create when FAIL is set, and SIZE (breaking)
// replaces the first.
const std::string pipeline = std::string(e2e::printing_prelude) + R"(
local Disk = T("Disk", { breaks = { "size" }, fields = { size = 1 } })
local Job = T("Job", { fields = { disk = ochre.required },
  create = function(self)
    if os.getenv("FAIL") then error("the job broke on purpose") end  -- FAILS
    print("CREATE " .. tostring(self))
  end })
local disk = Disk "d" { size = tonumber(os.getenv("SIZE") or "1") }
return Job "j" { disk = disk }
)";

std::vector<std::string> events_of(const std::vector<Receiver::Request>& requests) {
  std::vector<std::string> out;
  for (const auto& r : requests) out.push_back(r.event);
  return out;
}

// Every delivery id of `requests`, each once: none arrived twice.
std::set<std::string> unique_ids(const std::vector<Receiver::Request>& requests) {
  std::set<std::string> ids;
  for (const auto& r : requests) {
    INFO("delivery " << r.delivery << " (" << r.event << ")");
    CHECK(ids.insert(r.delivery).second);
  }
  return ids;
}

// The ids of the outbox rows, as a set.
std::set<std::string> outbox_ids(const TempDir& dir, const std::string& where = "true") {
  auto rows = dir.query("SELECT id FROM outbox WHERE " + where);
  return {rows.begin(), rows.end()};
}

// A request as a receiver must check it: signed with `key`, its headers agreeing with
// its JSON body.
json verified(const Receiver::Request& r, const std::string& key = secret) {
  INFO("body: " << r.body);
  CHECK(r.signature == e2e::hmac_sha256(key, r.body));
  CHECK(r.content_type == "application/json");
  json body = json::parse(r.body);
  CHECK(body["id"] == r.delivery);
  CHECK(body["event"] == r.event);
  CHECK(body["at"].get<std::string>().size() == 24);  // 2024-05-01T12:00:00.123Z
  CHECK(body["at"].get<std::string>().back() == 'Z');
  return body;
}

}  // namespace

TEST_CASE("notifications: a run posts run.started and run.finished, signed with the secret",
          "[e2e][notify]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url("/hooks/ochre?team=ops")}, with_secret);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  // The run waited for its deliveries: they are all in when it exits.
  auto got = hook.requests();
  REQUIRE(events_of(got) == Rows{"run.started", "run.finished"});
  unique_ids(got);
  for (const auto& req : got) CHECK(req.path == "/hooks/ochre");
  std::string run = dir.query("SELECT max(id) FROM runs").at(0);

  json started = verified(got[0]);
  CHECK(started["run"] == std::stoi(run));
  CHECK(started["source"] == dir.file("pipeline.lua"));
  CHECK(started["command"] == "apply");
  CHECK(started["jobs"] == 2);
  json finished = verified(got[1]);
  CHECK(finished["run"] == std::stoi(run));
  CHECK(finished["outcome"] == "done");
  CHECK(finished["summary"] == "2 done");
  CHECK(finished["done"] == 2);
  CHECK(finished["failed"] == 0);

  // A receiver with another secret would not take them.
  CHECK(got[0].signature != e2e::hmac_sha256("another secret", got[0].body));
  // The outbox says both went out; the secret itself is stored nowhere, shown nowhere.
  CHECK(dir.query("SELECT event, attempts, delivered IS NOT NULL, error FROM outbox ORDER BY seq") ==
        Rows{"run.started|1|1|", "run.finished|1|1|"});
  CHECK(outbox_ids(dir) == unique_ids(got));
  CHECK(dir.bytes(".ochre/state.db").find(secret) == std::string::npos);
  CHECK(dir.bytes(".ochre/state.db-wal").find(secret) == std::string::npos);
  CHECK(r.out.find(secret) == std::string::npos);
  CHECK(r.err.find(secret) == std::string::npos);
}

TEST_CASE("notifications: nothing is sent for a no-op run", "[e2e][notify]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  const std::vector<std::string> run = {"run", "pipeline.lua", "--notify", hook.url()};
  REQUIRE(dir.ochre(run, with_secret).code == 0);
  REQUIRE(hook.requests().size() == 2);
  const Rows runs = dir.query("SELECT id FROM runs");

  auto r = dir.ochre(run, with_secret);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  // The process is gone: whatever it would have sent, it has.
  CHECK(hook.requests().size() == 2);
  CHECK(dir.query("SELECT count(*) FROM outbox") == Rows{"2"});
  CHECK(dir.query("SELECT id FROM runs") == runs);
}

TEST_CASE("notifications: a failing hook sends job.failed, then run.failed", "[e2e][notify]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  Env env = with_secret;
  env["FAIL"] = "1";
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url()}, env);
  INFO(r.out << r.err);
  REQUIRE(r.code == 1);
  auto got = hook.requests();
  // One webhook gets its events in the order they happened.
  REQUIRE(events_of(got) == Rows{"run.started", "job.failed", "run.failed"});
  unique_ids(got);
  json failed = verified(got[1]);
  CHECK(failed["key"] == "Job/j");
  CHECK(failed["uuid"] == dir.query("SELECT uuid FROM jobs WHERE key = 'Job/j'").at(0));
  CHECK(failed["action"] == "create");
  CHECK(failed["outcome"] == "failed");
  std::string error = failed["error"];
  CHECK(error.find("the job broke on purpose") != std::string::npos);
  CHECK(error.find("pipeline.lua:" + std::to_string(e2e::line_of(pipeline, "-- FAILS")) + ":") != std::string::npos);
  json run = verified(got[2]);
  CHECK(run["outcome"] == "failed");
  CHECK(run["summary"] == "1 done, 1 failed");
  CHECK(run["failed"] == 1);
  CHECK(run["done"] == 1);
}

TEST_CASE("notifications: a breaking change sends component.replaced with the old and new uuid",
          "[e2e][notify]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);  // no webhook yet
  std::string old_uuid = dir.query("SELECT uuid FROM instances WHERE key = 'Disk/d'").at(0);

  Env env = with_secret;
  env["SIZE"] = "2";
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url()}, env);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto got = hook.requests();
  REQUIRE(events_of(got) == Rows{"run.started", "component.replaced", "run.finished"});
  json replaced = verified(got[1]);
  CHECK(replaced["key"] == "Disk/d");
  CHECK(replaced["old_uuid"] == old_uuid);
  CHECK(replaced["uuid"] == dir.query("SELECT uuid FROM instances WHERE key = 'Disk/d'").at(0));
  CHECK(replaced["uuid"] != old_uuid);
  CHECK(replaced["reason"] == "replace: breaking field size changed");
  // The update of its dependent is no event of its own.
  CHECK(verified(got[0])["jobs"] == 3);
}

TEST_CASE("notifications: ochre.notify in the pipeline gets only the events it asks for",
          "[e2e][notify]") {
  Receiver failures, everything;
  TempDir dir;
  dir.write("pipeline.lua", e2e::subst(e2e::subst(R"(local ochre = require "ochre"
ochre.notify { url = "{{FAILURES}}", events = { "job.failed" }, secret = os.getenv "HOOK_SECRET" }
ochre.notify { url = "{{ALL}}", secret = os.getenv "OTHER_SECRET" }
)", "FAILURES", failures.url("/failures")), "ALL", everything.url("/all")) + pipeline);
  Env env = {{"HOOK_SECRET", "hook-secret"}, {"OTHER_SECRET", "other-secret"}, {"FAIL", "1"}};
  auto r = dir.ochre({"run", "pipeline.lua"}, env);
  INFO(r.out << r.err);
  REQUIRE(r.code == 1);
  auto filtered = failures.requests();
  REQUIRE(events_of(filtered) == Rows{"job.failed"});
  CHECK(verified(filtered[0], "hook-secret")["key"] == "Job/j");
  auto all = everything.requests();
  REQUIRE(events_of(all) == Rows{"run.started", "job.failed", "run.failed"});
  for (const auto& req : all) verified(req, "other-secret");
  // Each webhook's delivery of the same event has an id of its own.
  CHECK(filtered[0].delivery != all[1].delivery);

  // A plan sends nothing, a no-op run neither.
  REQUIRE(dir.ochre({"plan", "pipeline.lua"}, env).code == 0);
  env.erase("FAIL");
  REQUIRE(dir.ochre({"run", "pipeline.lua"}, env).code == 0);  // the retry succeeds
  CHECK(events_of(everything.requests()) ==
        Rows{"run.started", "job.failed", "run.failed", "run.started", "run.finished"});
  CHECK(failures.requests().size() == 1);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}, env).code == 0);
  CHECK(everything.requests().size() == 5);
}

TEST_CASE("notifications: after a receiver was down for a whole run, the next run (a no-op) "
          "delivers every event exactly once",
          "[e2e][notify]") {
  Receiver hook(/*up=*/false);
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  const std::vector<std::string> run = {"run", "pipeline.lua", "--notify", hook.url(), "--notify-timeout", "0.5"};
  auto t0 = std::chrono::steady_clock::now();
  auto r = dir.ochre(run, with_secret);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);  // the jobs did their work; the notifications wait
  CHECK(took < 10);
  // Why: "cannot connect", or (on a loaded machine) the time ran out mid-attempt.
  CHECK(r.out.find("note: 2 notifications not delivered yet (http://127.0.0.1:" + std::to_string(hook.port()) +
                   ": ") != std::string::npos);
  CHECK(r.out.find("); the next run sends them\n") != std::string::npos);
  CHECK(dir.query("SELECT event FROM outbox WHERE delivered IS NULL ORDER BY seq") ==
        Rows{"run.started", "run.finished"});
  const auto left = outbox_ids(dir);

  hook.start();
  r = dir.ochre(run, with_secret);
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  CHECK(r.out.find("not delivered") == std::string::npos);
  auto got = hook.requests();
  // The first run's events, each once, in order; the no-op run has none of its own.
  CHECK(events_of(got) == Rows{"run.started", "run.finished"});
  CHECK(unique_ids(got) == left);
  for (const auto& req : got) CHECK(verified(req)["run"] == 1);
  CHECK(dir.query("SELECT count(*) FROM outbox WHERE delivered IS NULL") == Rows{"0"});

  // Delivered is delivered: a third run sends nothing again.
  REQUIRE(dir.ochre(run, with_secret).code == 0);
  CHECK(hook.requests().size() == 2);
}

TEST_CASE("notifications: a receiver that comes up during the run gets every event exactly "
          "once from the same run's retries",
          "[e2e][notify]") {
  Receiver hook(/*up=*/false);
  TempDir dir;
  dir.write("pipeline.lua", std::string(e2e::printing_prelude) + R"(
local Wait = T("Wait", { fields = {}, create = function(self)
  assert(ochre.wait_file(os.getenv "GO_FILE", { timeout = 60 }), "no go file")
end })
local Fail = T("Fail", { fields = {}, create = function(self) error("no luck") end })
return { Wait "w" {}, Fail "f" {} }
)");
  Env env = with_secret;
  env["GO_FILE"] = dir.file("go");
  auto p = dir.start({"run", "pipeline.lua", "--notify", hook.url()}, env);
  // Down: the first attempts at run.started and job.failed fail while the run goes on.
  REQUIRE(e2e::wait_until([&] {
    try {  // the state may not be there yet
      return dir.query("SELECT count(*) FROM outbox WHERE attempts > 0 AND delivered IS NULL AND "
                       "event = 'run.started'") == Rows{"1"};
    } catch (const std::exception&) {
      return false;
    }
  }));
  CHECK(p->running());
  hook.start();
  REQUIRE(e2e::wait_until([&] { return hook.accepted().size() == 2; }));
  CHECK(p->running());  // delivered while the run goes on
  dir.write("go", "");
  auto r = p->wait();
  INFO(r.out << r.err);
  REQUIRE(r.code == 1);
  auto got = hook.accepted();
  CHECK(events_of(got) == Rows{"run.started", "job.failed", "run.failed"});
  CHECK(hook.requests().size() == got.size());  // nothing answered otherwise: no duplicate attempt
  CHECK(unique_ids(got) == outbox_ids(dir));
  CHECK(dir.query("SELECT count(*) FROM outbox WHERE delivered IS NULL") == Rows{"0"});
  CHECK(dir.query("SELECT attempts > 1 FROM outbox WHERE event = 'run.started'") == Rows{"1"});
  for (const auto& req : got) verified(req);
}

TEST_CASE("notifications: answers other than 2xx are retried with back-off until one is 2xx",
          "[e2e][notify]") {
  Receiver hook;
  hook.fail_next(2, 500);
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url()}, with_secret);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto accepted = hook.accepted();
  CHECK(events_of(accepted) == Rows{"run.started", "run.finished"});
  CHECK(unique_ids(accepted) == outbox_ids(dir, "delivered IS NOT NULL"));
  CHECK(outbox_ids(dir, "delivered IS NULL").empty());
  // run.started was refused twice, then taken, always with the same id and body.
  auto all = hook.requests();
  REQUIRE(all.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(all[i].delivery == all[0].delivery);
    CHECK(all[i].body == all[0].body);
    CHECK(all[i].status == (i < 2 ? 500 : 200));
  }
  CHECK(dir.query("SELECT event, attempts, error FROM outbox ORDER BY seq") ==
        Rows{"run.started|3|", "run.finished|1|"});
}

TEST_CASE("notifications: a receiver that never answers holds ochre up no longer than "
          "--notify-timeout, and gets the event again next time",
          "[e2e][notify]") {
  Receiver hook;
  hook.hang_next(1);
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto t0 = std::chrono::steady_clock::now();
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url(), "--notify-timeout", "1"}, with_secret);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(took < 8);  // the timeout, plus start-up; far below the client's 10 s read timeout
  CHECK(r.out.find("note: 2 notifications not delivered yet") != std::string::npos);
  REQUIRE(hook.requests().size() == 1);
  std::string first_id = hook.requests()[0].delivery;
  hook.release();

  r = dir.ochre({"run", "pipeline.lua"}, with_secret);  // a no-op: the leftovers go out
  CHECK(r.code == 0);
  auto accepted = hook.accepted();
  CHECK(events_of(accepted) == Rows{"run.started", "run.finished"});
  CHECK(accepted.at(0).delivery == first_id);  // the same event, sent again
  unique_ids(accepted);
}

TEST_CASE("notifications: destroy reports its run as command destroy", "[e2e][notify]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  auto r = dir.ochre({"destroy", "pipeline.lua", "--notify", hook.url()}, with_secret);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto got = hook.requests();
  REQUIRE(events_of(got) == Rows{"run.started", "run.finished"});
  CHECK(verified(got[0])["command"] == "destroy");
  CHECK(verified(got[1])["summary"] == "2 done");
}

TEST_CASE("notifications: --notify needs OCHRE_NOTIFY_SECRET and an http URL", "[e2e][notify]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", "http://127.0.0.1:9/hook"});
  CHECK(r.code == 2);
  CHECK(r.err == "error: --notify needs a secret to sign deliveries with: set OCHRE_NOTIFY_SECRET "
                 "(see 'ochre --help')\n");
  r = dir.ochre({"run", "pipeline.lua", "--notify", "ftp://127.0.0.1/hook"}, with_secret);
  CHECK(r.code == 2);
  CHECK(r.err == "error: --notify 'ftp://127.0.0.1/hook': a webhook URL starts with http:// or https:// "
                 "(see 'ochre --help')\n");
  r = dir.ochre({"run", "pipeline.lua", "--notify-timeout", "soon"}, with_secret);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK_FALSE(dir.exists(".ochre"));
}

TEST_CASE("notifications: events of a run killed with kill -9 are sent by the next run, each "
          "once, before its own, with a run.failed for the killed run",
          "[e2e][notify][interrupt]") {
  Receiver hook(/*up=*/false);
  TempDir dir;
  dir.write("pipeline.lua", std::string(e2e::printing_prelude) + R"(
local Wait = T("Wait", { fields = {}, create = function(self)
  assert(ochre.wait_file(os.getenv "GO_FILE", { timeout = 60 }), "no go file")
end })
local Fail = T("Fail", { fields = {}, create = function(self) error("no luck") end })
return { Wait "w" {}, Fail "f" {} }
)");
  Env env = with_secret;
  env["GO_FILE"] = dir.file("go");
  const std::vector<std::string> run = {"run", "pipeline.lua", "--notify", hook.url()};
  auto p = dir.start(run, env);
  REQUIRE(e2e::wait_until([&] {
    try {
      return dir.query("SELECT count(*) FROM outbox WHERE event = 'job.failed'") == Rows{"1"};
    } catch (const std::exception&) {
      return false;
    }
  }));
  REQUIRE(p->signal_group(SIGKILL));
  p->wait();
  CHECK(dir.query("SELECT event FROM outbox WHERE delivered IS NULL ORDER BY seq") == Rows{"run.started", "job.failed"});

  hook.start();
  dir.write("go", "");
  auto r = dir.ochre(run, env);  // retries the interrupted job and the failed one
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  auto got = hook.accepted();
  // The killed run's end is reported by the run that found it dead, before its own events.
  CHECK(events_of(got) ==
        Rows{"run.started", "job.failed", "run.failed", "run.started", "job.failed", "run.failed"});
  std::vector<int> runs;
  for (const auto& req : got) runs.push_back(verified(req)["run"]);
  CHECK(runs == std::vector<int>{1, 1, 1, 2, 2, 2});
  REQUIRE(got.size() == 6);
  json dead = verified(got[2]);
  CHECK(dead["outcome"] == "interrupted");
  CHECK(dead["command"] == "apply");
  CHECK(dead["summary"] == "ochre stopped before the run ended");
  CHECK(verified(got[5])["outcome"] == "failed");
  CHECK(unique_ids(got) == outbox_ids(dir));
  CHECK(hook.requests().size() == got.size());
  CHECK(dir.query("SELECT count(*) FROM outbox WHERE delivered IS NULL") == Rows{"0"});
}

TEST_CASE("notifications: a run killed after its last job was committed leaves nothing to plan: "
          "the next run records it interrupted and sends its run.failed, once",
          "[e2e][notify][interrupt]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  const std::vector<std::string> run = {"run", "pipeline.lua", "--notify", hook.url()};
  auto r = dir.ochre(run, with_secret);
  REQUIRE(r.code == 0);
  REQUIRE(events_of(hook.requests()) == Rows{"run.started", "run.finished"});
  // What a kill -9 between the commit of the run's last job and that of its end leaves:
  // every instance applied, the run still "running".
  dir.change_state("UPDATE runs SET outcome = 'running', ended = NULL, summary = ''");

  r = dir.ochre(run, with_secret);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  CHECK(dir.query("SELECT outcome FROM runs") == Rows{"interrupted"});
  auto got = hook.requests();
  REQUIRE(events_of(got) == Rows{"run.started", "run.finished", "run.failed"});
  json dead = verified(got[2]);
  CHECK(dead["run"] == 1);
  CHECK(dead["outcome"] == "interrupted");

  // Recorded once: the run after finds nothing to do and sends nothing.
  r = dir.ochre(run, with_secret);
  CHECK(r.code == 0);
  CHECK(hook.requests().size() == 3);
  CHECK(dir.query("SELECT count(*) FROM runs") == Rows{"1"});
}

TEST_CASE("postgres: a schema an older ochre made (version 1, no outbox) is read as it is by "
          "plan, and a run with a webhook adds the outbox and notifies",
          "[e2e][postgres][notify]") {
  Receiver hook;
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  std::string url = dir.state_env().at("OCHRE_STATE");
  std::string schema = "\"" + url.substr(url.find("schema=") + 7) + "\"";
  dir.change_state("DROP TABLE " + schema + ".outbox CASCADE; ALTER TABLE " + schema +
                   ".instances DROP COLUMN protect; ALTER TABLE " + schema + ".workspaces DROP COLUMN hash_key; UPDATE " +
                   schema + ".meta SET version = 1");
  const std::string before = dir.state_bytes();

  auto r = dir.ochre({"plan", "pipeline.lua"});
  CHECK(r.code == 0);
  CHECK(r.out.find("No changes needed") != std::string::npos);
  CHECK(dir.state_bytes() == before);

  Env env = with_secret;
  env["SIZE"] = "2";
  r = dir.ochre({"run", "pipeline.lua", "--notify", hook.url()}, env);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(dir.query("SELECT version FROM " + schema + ".meta") == Rows{"4"});
  CHECK(events_of(hook.requests()) == Rows{"run.started", "component.replaced", "run.finished"});
  CHECK(dir.query("SELECT count(*) FROM outbox WHERE delivered IS NULL") == Rows{"0"});
}
