// Notifications in the engine: the HMAC that signs deliveries, the webhook URL checks,
// the bodies the notifier builds, the back-off, and the outbox in the SQLite state
// (written with what it reports, read back in order, migrated from version 3).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/hash.hpp"
#include "engine/notify.hpp"
#include "engine/state.hpp"
#include "ochre/errors.hpp"
#include "unit/temp_state.hpp"
#include "ochre/ochre.hpp"

using namespace ochre;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

long long scalar(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
    v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

OutboxEvent event(const std::string& id, const std::string& url = "http://127.0.0.1:9/h") {
  OutboxEvent e;
  e.id = id;
  e.event = "run.started";
  e.url = url;
  e.body = "{\"id\":\"" + id + "\"}";
  e.signature = hmac_sha256_hex("k", e.body);
  e.run = 1;
  e.next_at = 1000;
  return e;
}

std::vector<std::string> ids(const std::vector<OutboxEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

StoredInstance instance(const std::string& key) {
  StoredInstance s;
  s.key = key;
  s.type = "T";
  s.identifier = key.substr(2);
  s.uuid = "0123456789abcdef";
  s.hash = std::string(64, 'a');
  s.fields = {{"identifier", Value::of_string(s.identifier)}};
  return s;
}

// A loopback port nobody listens on: connections to it are refused.
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(fd >= 0);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

const char* const one_instance = "local ochre = require 'ochre'\nreturn ochre.Component 'x' {}\n";

}  // namespace

TEST_CASE("HMAC-SHA256 gives the RFC 4231 test vectors", "[notify][hmac]") {
  CHECK(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the block is hashed first (RFC 4231 case 6).
  CHECK(hmac_sha256_hex(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  CHECK(hmac_sha256_hex("", "") == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("webhook URLs: http and https with a host, nothing else", "[notify]") {
  for (const char* good : {"http://127.0.0.1:8080/hook", "https://hooks.example.test/a/b?team=ops",
                           "HTTP://EXAMPLE.TEST", "http://[::1]:9000/x", "http://[::1]/x", "http://h:1/"}) {
    INFO(good);
    CHECK(check_webhook_url(good).empty());
  }
  CHECK(check_webhook_url("ftp://example.test/") == "a webhook URL starts with http:// or https://");
  CHECK(check_webhook_url("example.test/hook") == "a webhook URL starts with http:// or https://");
  CHECK(check_webhook_url("http://") == "the webhook URL names no host");
  CHECK(check_webhook_url("https:///path") == "the webhook URL names no host");
  CHECK(check_webhook_url("http://exa mple.test/") == "a webhook URL has no spaces or control characters");
  CHECK(check_webhook_url("http://u:p@example.test/").find("no user or password") != std::string::npos);
  CHECK(check_webhook_url("http://example.test/#top") == "a webhook URL has no #fragment");
  for (const char* port : {"http://h:0/", "http://h:65536/", "http://h:/", "http://h:80a/", "http://h:123456/"}) {
    INFO(port);
    CHECK(check_webhook_url(port) == "the webhook URL's port is not a number from 1 to 65535");
  }
  CHECK(url_origin("https://hooks.example.test:8443/T0/B1/secret-token?x=1") == "https://hooks.example.test:8443");
  CHECK(url_origin("http://h") == "http://h");
}

TEST_CASE("the notifier signs a JSON body for each webhook that wants the event", "[notify]") {
  Notifier n({{"http://a.test/1", "secret-a", {}}, {"http://b.test/2", "secret-b", {"job.failed"}}},
             "/srv/pipeline.lua", "apply");
  auto started = n.make("run.started", 7, JsonMembers().add("jobs", 3));
  REQUIRE(started.size() == 1);  // b wants job.failed only
  const OutboxEvent& e = started[0];
  CHECK(e.url == "http://a.test/1");
  CHECK(e.event == "run.started");
  CHECK(e.run == 7);
  CHECK(e.attempts == 0);
  CHECK(std::abs(e.next_at - now_ms()) < 60000);
  CHECK(e.signature == hmac_sha256_hex("secret-a", e.body));
  json body = json::parse(e.body);
  CHECK(body["id"] == e.id);
  CHECK(body["event"] == "run.started");
  CHECK(body["run"] == 7);
  CHECK(body["source"] == "/srv/pipeline.lua");
  CHECK(body["command"] == "apply");
  CHECK(body["jobs"] == 3);
  CHECK(body["at"].get<std::string>().size() == 24);

  // Not UTF-8 in a hook's message: still valid JSON, the bad bytes replaced.
  auto failed = n.make("job.failed", 7, JsonMembers().add("error", std::string("bad \xff\xc3 byte \xe2\x82\xac \"q\"\n")));
  REQUIRE(failed.size() == 2);
  CHECK(failed[0].id != failed[1].id);
  CHECK(failed[1].signature == hmac_sha256_hex("secret-b", failed[1].body));
  CHECK(failed[0].signature != hmac_sha256_hex("secret-b", failed[0].body));
  CHECK(json::parse(failed[1].body)["error"] == "bad \xef\xbf\xbd\xef\xbf\xbd byte \xe2\x82\xac \"q\"\n");
  // Overlong and surrogate encodings are not UTF-8 either.
  auto odd = n.make("run.failed", 1, JsonMembers().add("summary", std::string("\xc0\xaf \xed\xa0\x80")));
  CHECK_NOTHROW(json::parse(odd[0].body));
}

TEST_CASE("delivery ids are version 4 UUIDs, each new", "[notify]") {
  std::string a = new_delivery_id(), b = new_delivery_id();
  CHECK(a != b);
  REQUIRE(a.size() == 36);
  CHECK(a[8] == '-');
  CHECK(a[14] == '4');
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);
}

TEST_CASE("retries back off from half a second, doubling, to a minute", "[notify]") {
  CHECK(retry_delay_ms(1) == 500);
  CHECK(retry_delay_ms(2) == 1000);
  CHECK(retry_delay_ms(3) == 2000);
  CHECK(retry_delay_ms(8) == 60000);
  CHECK(retry_delay_ms(1000) == 60000);
}

TEST_CASE("the outbox: events come back due and in order until delivered", "[notify][state]") {
  TempState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK(st->outbox_due(LLONG_MAX, 10).empty());
  auto late = event("c");
  late.next_at = 5000;
  st->outbox_add({event("a"), event("b", "http://other.test/"), late});

  CHECK(ids(st->outbox_due(1000, 10)) == std::vector<std::string>{"a", "b"});
  CHECK(ids(st->outbox_due(LLONG_MAX, 10)) == std::vector<std::string>{"a", "b", "c"});
  CHECK(ids(st->outbox_due(LLONG_MAX, 2)) == std::vector<std::string>{"a", "b"});
  auto all = st->outbox_due(LLONG_MAX, 10);
  CHECK(all[1].url == "http://other.test/");
  CHECK(all[0].body == "{\"id\":\"a\"}");
  CHECK(all[0].signature == hmac_sha256_hex("k", all[0].body));
  CHECK(all[0].run == 1);

  st->outbox_retry("a", 1, 9000, "cannot connect");
  auto a = st->outbox_due(LLONG_MAX, 10)[0];
  CHECK(a.id == "a");  // still first: the order is the order of events
  CHECK(a.attempts == 1);
  CHECK(a.next_at == 9000);
  CHECK(a.error == "cannot connect");
  CHECK(ids(st->outbox_due(1000, 10)) == std::vector<std::string>{"b"});

  st->outbox_delivered("b");
  st->outbox_retry("b", 5, 0, "late answer");  // delivered stays delivered
  CHECK(ids(st->outbox_due(LLONG_MAX, 10)) == std::vector<std::string>{"a", "c"});
  CHECK(scalar(t.path(), "SELECT attempts FROM outbox WHERE id = 'b'") == 1);
  CHECK(scalar(t.path(), "SELECT delivered IS NOT NULL AND error = '' FROM outbox WHERE id = 'b'") == 1);

  // Ids are unique: the same event is never queued twice.
  CHECK_THROWS_AS(st->outbox_add({event("a")}), Error);
  // A read-only view sees the same.
  CHECK(ids(open_sqlite_state(t.path(), OpenMode::ReadOnly)->outbox_due(LLONG_MAX, 10)) ==
        std::vector<std::string>{"a", "c"});
}

TEST_CASE("the outbox commits with the job outcome it reports, and not before", "[notify][state]") {
  TempState t;
  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  long long run = st->begin_run({"apply", "/p.lua"});
  StoredInstance a = instance("T/a");
  long long job = st->job_started(run, 0, Action::Create, a);

  st->begin_batch();  // the scheduler's batch around jobs ending together
  st->begin_batch();  // the outcome and its event, nested in it
  JobOutcome failed;
  failed.kind = JobOutcome::Failed;
  failed.error = "boom";
  st->job_finished(job, Action::Create, a, failed);
  st->outbox_add({event("e1")});
  st->commit_batch();  // the inner commit commits nothing yet
  auto other = open_sqlite_state(t.path(), OpenMode::ReadOnly);
  CHECK(other->outbox_due(LLONG_MAX, 10).empty());
  CHECK(other->load().at(0).status == Status::Running);
  st->commit_batch();
  other = open_sqlite_state(t.path(), OpenMode::ReadOnly);
  CHECK(ids(other->outbox_due(LLONG_MAX, 10)) == std::vector<std::string>{"e1"});
  CHECK(other->load().at(0).status == Status::Failed);
  CHECK_NOTHROW(st->commit_batch());  // one too many: nothing happens
}

TEST_CASE("a version 3 state gets its outbox when opened for writing, and is read as it is "
          "otherwise",
          "[notify][state][migration]") {
  TempState t;
  {
    auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
    long long run = st->begin_run({"apply", "x"});
    StoredInstance a = instance("T/a");
    st->job_finished(st->job_started(run, 0, Action::Create, a), Action::Create, a, JobOutcome{});
  }
  // What version 3 wrote: no outbox.
  exec(t.path(), "DROP TABLE meta; DROP TABLE outbox; ALTER TABLE instances DROP COLUMN protect; PRAGMA user_version = 3");
  {
    auto ro = open_sqlite_state(t.path(), OpenMode::ReadOnly);
    CHECK(ro->outbox_due(LLONG_MAX, 10).empty());
    CHECK(ro->load().size() == 1);
  }
  CHECK(scalar(t.path(), "PRAGMA user_version") == 3);
  CHECK(scalar(t.path(), "SELECT count(*) FROM sqlite_master WHERE name = 'outbox'") == 0);

  auto st = open_sqlite_state(t.path(), OpenMode::ReadWrite);
  CHECK(scalar(t.path(), "PRAGMA user_version") == 7);
  CHECK(st->load().size() == 1);
  CHECK(st->runs(0).size() == 1);
  st->outbox_add({event("a")});
  CHECK(ids(st->outbox_due(LLONG_MAX, 10)) == std::vector<std::string>{"a"});
}

TEST_CASE("a host's webhooks: an apply counts what it could not deliver, and the next one "
          "tries again, with a state in a file or in memory",
          "[notify][embed]") {
  TempState t;
  for (std::string state : {std::string(":memory:"), t.path()}) {
    INFO(state);
    Options o;
    o.state_path = state;
    o.job_output = [](const std::string&, std::string_view) {};
    o.notify = {{"http://127.0.0.1:" + std::to_string(closed_port()) + "/hook", "s3cret", {}}};
    o.notify_timeout = 0.2;
    Engine engine(o);
    engine.load_string(one_instance);
    engine.plan();
    RunResult r = engine.apply();
    CHECK(r.done == 1);
    CHECK(r.undelivered == 2);  // run.started and run.finished
    CHECK(r.notify_error.rfind("http://127.0.0.1:", 0) == 0);
    // Nothing to do: nothing new, the two left are tried again.
    engine.plan();
    r = engine.apply();
    CHECK(r.nothing_to_do);
    CHECK(r.undelivered == 2);
  }
}

TEST_CASE("a host's webhook without a secret, with a bad URL or an unknown event is refused "
          "before anything is written",
          "[notify][embed]") {
  TempState t;
  for (Webhook bad : {Webhook{"http://127.0.0.1:9/h", "", {}}, Webhook{"gopher://h/", "s", {}},
                      Webhook{"http://127.0.0.1:9/h", "s", {"run.done"}}}) {
    Options o;
    o.state_path = t.path();
    o.notify = {bad};
    Engine engine(o);
    engine.load_string(one_instance);
    engine.plan();
    try {
      engine.apply();
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == Code::Usage);
      CHECK(std::string(e.what()).find("s3cret") == std::string::npos);
    }
    CHECK_FALSE(fs::exists(t.path()));
  }
}
