// `ochre serve` end to end: the real binary serving on loopback, its JSON API and event
// stream while another ochre applies, the flags (host, port, a busy port, --allow-apply)
// and a clean stop on SIGINT/SIGTERM. The browser side is tests/browser/.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "e2e/harness.hpp"

using e2e::TempDir;
using nlohmann::json;

namespace {

// A started `ochre serve`, with the URL it printed.
struct Served {
  std::unique_ptr<e2e::Process> process;
  std::string host;
  int port = 0;

  httplib::Client client() const {
    httplib::Client c(host, port);
    c.set_read_timeout(10);
    return c;
  }
  json get(const std::string& path) const {
    auto res = client().Get(path.c_str());
    REQUIRE(res);
    INFO(path << " -> " << res->status << " " << res->body);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  }
  // Stops it with `sig`; its exit code.
  int stop(int sig = SIGTERM) {
    process->signal(sig);
    return process->wait().code;
  }
};

// Starts `ochre serve ARGS` in `dir` and waits for its "Serving http://HOST:PORT/" line.
Served serve(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "serve");
  Served s;
  s.process = dir.start(args);
  std::smatch m;
  static const std::regex line(R"(Serving http://\[?([^\]/]+?)\]?:(\d+)/\n)");
  std::string out;
  bool up = e2e::wait_until([&] {
    out = s.process->out_so_far();
    return std::regex_search(out, m, line) || !s.process->running();
  });
  INFO(out << s.process->err_so_far());
  REQUIRE(up);
  REQUIRE(std::regex_search(out, m, line));
  s.host = m[1];
  s.port = std::stoi(m[2]);
  return s;
}

// The pipeline of most tests: a diamond (two children share a leaf) under one root; the
// "slow" instance's create waits for the file "go" when `gate` is set.
std::string diamond(const TempDir& dir, bool gate) {
  std::string wait = gate ? "ochre.wait_file(\"" + dir.file("go") + "\", { timeout = 60 })" : "";
  return R"(local ochre = require "ochre"
local Step = ochre.component "Step" {
  fields = { inputs = {}, n = 1 },
  create = function(self)
    if self.identifier == "slow" then )" + wait + R"( end
    print("made " .. self.identifier)
    return { made = self.identifier }
  end,
}
local leaf = Step "leaf" {}
return Step "root" { inputs = { Step "slow" { inputs = { leaf } }, Step "fast" { inputs = { leaf } } } }
)";
}

std::map<std::string, std::string> statuses(const Served& s) {
  return s.get("/api/status")["statuses"].get<std::map<std::string, std::string>>();
}

// The local address (hex, as /proc/net/tcp writes it) of the socket listening on `port`.
std::string listening_address(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  char want[8];
  std::snprintf(want, sizeof want, "%04X", port);
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string slot, local, remote, state;
    row >> slot >> local >> remote >> state;
    if (state == "0A" && local.size() > 5 && local.substr(local.size() - 4) == want)
      return local.substr(0, local.find(':'));
  }
  return "";
}

// A socket listening on 127.0.0.1 at a port the kernel picks: a busy port.
struct BusyPort {
  int fd = -1, port = 0;
  BusyPort() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd, 4) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~BusyPort() { close(fd); }
};

}  // namespace

TEST_CASE("serve listens on loopback by default, prints its URL and sends the page", "[e2e][serve]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  Served s = serve(dir, {"pipeline.lua", "--port", "0"});
  CHECK(s.host == "127.0.0.1");
  CHECK(listening_address(s.port) == "0100007F");  // 127.0.0.1, not every address
  auto res = s.client().Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").rfind("text/html", 0) == 0);
  CHECK(res->body.find("<script src=\"/app.js\">") != std::string::npos);
  auto js = s.client().Get("/app.js");
  REQUIRE(js);
  CHECK(js->status == 200);
  CHECK(js->body.find("EventSource('/api/events')") != std::string::npos);
  CHECK(s.client().Get("/api/nothing")->status == 404);
  CHECK(s.stop(SIGTERM) == 0);
  CHECK_FALSE(dir.exists(".ochre/state.db"));  // reading wrote nothing
}

TEST_CASE("serve --port serves there and --host takes another loopback address", "[e2e][serve]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  int port = 0;
  {
    BusyPort probe;  // a port free a moment ago
    port = probe.port;
  }
  Served s = serve(dir, {"pipeline.lua", "--port", std::to_string(port), "--host", "127.0.0.2"});
  CHECK(s.host == "127.0.0.2");
  CHECK(s.port == port);
  CHECK(listening_address(port) == "0200007F");
  CHECK(s.get("/api/graph")["nodes"].size() == 4);
  CHECK(s.stop(SIGINT) == 0);
}

TEST_CASE("serve without --port uses 8080", "[e2e][serve][port8080]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  auto p = dir.start({"serve", "pipeline.lua"});
  // Either it serves on 8080, or 8080 is taken on this machine and it says so.
  REQUIRE(e2e::wait_until([&] {
    return p->out_so_far().find("Serving ") != std::string::npos || !p->running();
  }));
  if (p->running()) {
    CHECK(p->out_so_far().find("Serving http://127.0.0.1:8080/\n") != std::string::npos);
    p->signal(SIGTERM);
    CHECK(p->wait().code == 0);
  } else {
    auto r = p->wait();
    CHECK(r.code == 2);
    CHECK(r.err.find("cannot serve on 127.0.0.1:8080: the port is in use") != std::string::npos);
  }
}

TEST_CASE("serve on a busy port is exit 2 with a clear message", "[e2e][serve][usage]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  BusyPort busy;
  auto r = dir.ochre({"serve", "pipeline.lua", "--port", std::to_string(busy.port)});
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(e2e::first_line(r.err) == "error: cannot serve on 127.0.0.1:" + std::to_string(busy.port) +
                                      ": the port is in use (another server runs there); choose another with --port");
  CHECK(r.out.find("Serving") == std::string::npos);
}

TEST_CASE("serve refuses a bad --port and a broken pipeline with exit 2", "[e2e][serve][usage]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  for (std::string bad : {"70000", "http", "-1"}) {
    auto r = dir.ochre({"serve", "pipeline.lua", "--port=" + bad});
    INFO(bad << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(e2e::first_line(r.err).find("--port takes a port number") != std::string::npos);
  }
  dir.write("broken.lua", "local ochre = require \"ochre\"\nreturn ochre.component \"T\" { fields = { a = 1 } } \"x\" { b = 2 }\n");
  auto r = dir.ochre({"serve", "broken.lua", "--port", "0"});
  CHECK(r.code == 2);
  CHECK(e2e::first_line(r.err).find("broken.lua:2") != std::string::npos);
  CHECK(dir.ochre({"serve", "a.lua", "b.lua"}).code == 2);
}

TEST_CASE("serve's API: the graph with planned statuses, the plan with reasons, a component",
          "[e2e][serve]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  Served s = serve(dir, {"pipeline.lua", "--port", "0"});
  json graph = s.get("/api/graph");
  REQUIRE(graph["nodes"].size() == 4);
  std::map<std::string, json> nodes;
  for (const auto& n : graph["nodes"]) nodes[n["key"]] = n;
  CHECK(nodes.at("Step/root")["deps"] == json({"Step/slow", "Step/fast"}));
  CHECK(nodes.at("Step/slow")["deps"] == json({"Step/leaf"}));
  for (const auto& [key, n] : nodes) {
    CHECK(n["status"] == "create");
    CHECK(n["action"] == "create");
  }
  json plan = s.get("/api/plan");
  REQUIRE(plan["jobs"].size() == 4);
  CHECK(plan["jobs"][0]["key"] == "Step/leaf");
  CHECK(plan["jobs"][0]["reason"] == "new");
  json c = s.get("/api/component?key=Step/slow");
  CHECK(c["status"] == "create");
  CHECK(c["planned"]["action"] == "create");
  CHECK(c["planned"]["inputs"]["inputs"][0]["$ref"] == "Step/leaf");
  CHECK(c["history"].empty());
  CHECK(c["stored"].is_null());
  auto missing = s.client().Get("/api/component?key=Step/nowhere");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["error"].get<std::string>().find("Step/nowhere") != std::string::npos);
  CHECK(s.stop() == 0);
}

TEST_CASE("serve follows a run of another process live: running, then applied, with its history",
          "[e2e][serve][live]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, true));
  Served s = serve(dir, {"pipeline.lua", "--port", "0"});

  // The event stream, read as the page does.
  std::mutex mu;
  std::string events;
  bool done = false;
  std::thread reader([&] {
    auto c = s.client();
    c.Get("/api/events", [&](const char* data, size_t len) {
      std::lock_guard lock(mu);
      events.append(data, len);
      return !done;
    });
  });
  auto events_seen = [&] {
    std::lock_guard lock(mu);
    return e2e::count(events, "event: status\n");
  };
  REQUIRE(e2e::wait_until([&] { return events_seen() >= 1; }));
  int before = events_seen();

  // The writer takes the lock with no waiting: serving must not hold it.
  auto run = dir.start({"run", "pipeline.lua", "--lock-timeout", "0"});
  REQUIRE(e2e::wait_until([&] { return statuses(s)["Step/slow"] == "running"; }));
  auto st = statuses(s);
  CHECK(st["Step/leaf"] == "applied");
  CHECK(st["Step/root"] == "create");
  json status = s.get("/api/status");
  CHECK(status["run"]["ended"] == "");
  // Step/fast, beside it, may still be ending: soon only Step/slow runs.
  CHECK(e2e::wait_until([&] {
    return s.get("/api/status")["run"]["running"].get<std::vector<std::string>>() ==
           std::vector<std::string>{"Step/slow"};
  }));
  CHECK(e2e::wait_until([&] { return events_seen() > before; }));  // the change was pushed

  dir.write("go", "");
  auto r = run->wait();
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(e2e::wait_until([&] {
    auto now = statuses(s);
    return now.size() == 4 && std::all_of(now.begin(), now.end(), [](auto& kv) { return kv.second == "applied"; });
  }));
  REQUIRE(e2e::wait_until([&] { return s.get("/api/plan")["jobs"].empty(); }));  // planned again

  json runs = s.get("/api/runs")["runs"];
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["outcome"] == "done");
  CHECK(runs[0]["jobs"].size() == 4);
  CHECK(runs[0]["ended"] != "");
  json c = s.get("/api/component?key=Step/slow");
  CHECK(c["status"] == "applied");
  REQUIRE(c["history"].size() == 1);
  CHECK(c["history"][0]["uuid"] == c["stored"]["uuid"]);
  CHECK(c["history"][0]["action"] == "create");
  REQUIRE(c["jobs"].size() == 1);
  CHECK(c["jobs"][0]["output"] == "made slow\n");
  CHECK(c["stored"]["outputs"]["made"] == "slow");

  {
    std::lock_guard lock(mu);
    done = true;
  }
  CHECK(s.stop(SIGINT) == 0);
  reader.join();
}

TEST_CASE("serve is read-only unless --allow-apply: the apply endpoint answers 403", "[e2e][serve]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  Served s = serve(dir, {"pipeline.lua", "--port", "0"});
  CHECK(s.get("/api/info")["allow_apply"] == false);
  auto res = s.client().Post("/api/apply", "", "application/json");
  REQUIRE(res);
  CHECK(res->status == 403);
  CHECK(json::parse(res->body)["error"].get<std::string>().find("--allow-apply") != std::string::npos);
  CHECK(s.stop() == 0);
  CHECK_FALSE(dir.exists(".ochre/state.db"));
}

TEST_CASE("serve --allow-apply applies the pipeline in the server, reported live", "[e2e][serve][live]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  Served s = serve(dir, {"pipeline.lua", "--port", "0", "--allow-apply"});
  CHECK(s.get("/api/info")["allow_apply"] == true);
  auto res = s.client().Post("/api/apply", "", "application/json");
  REQUIRE(res);
  CHECK(res->status == 202);
  REQUIRE(e2e::wait_until([&] {
    json st = s.get("/api/status");
    return !st["apply"]["running"].get<bool>() && st["apply"]["summary"] == "4 done";
  }));
  REQUIRE(e2e::wait_until([&] {
    auto now = statuses(s);
    return std::all_of(now.begin(), now.end(), [](auto& kv) { return kv.second == "applied"; });
  }));
  CHECK(dir.query("SELECT count(*) FROM instances WHERE status = 'ok'") == std::vector<std::string>{"4"});
  CHECK(s.get("/api/runs")["runs"].size() == 1);
  // Another ochre holding the state's lock: the page is told, nothing runs.
  dir.write("other.lua", "local ochre = require \"ochre\"\n"
            "return ochre.component \"Gate\" { create = function(self) ochre.wait_file(\"" + dir.file("go") +
            "\", { timeout = 60 }) end } \"g\" {}\n");
  auto other = dir.start({"run", "other.lua"});
  REQUIRE(e2e::wait_until([&] {
    json run = s.get("/api/status")["run"];
    return run["running"] == json({"Gate/g"});
  }));
  res = s.client().Post("/api/apply", "", "application/json");
  REQUIRE(res);
  CHECK(res->status == 409);
  CHECK(json::parse(res->body)["error"].get<std::string>().find("is locked by") != std::string::npos);
  CHECK(s.get("/api/status")["apply"]["running"] == false);
  dir.write("go", "");
  CHECK(other->wait().code == 0);
  CHECK(s.stop() == 0);
  CHECK(dir.query("SELECT count(*) FROM runs") == std::vector<std::string>{"2"});
}

TEST_CASE("serve stops cleanly on SIGINT and on SIGTERM", "[e2e][serve]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  for (int sig : {SIGINT, SIGTERM}) {
    Served s = serve(dir, {"pipeline.lua", "--port", "0"});
    // An open event stream does not hold the stop up.
    std::thread reader([&] { s.client().Get("/api/events", [](const char*, size_t) { return true; }); });
    REQUIRE(e2e::wait_until([&] { return s.get("/api/status")["status"].get<long long>() >= 1; }));
    s.process->signal(sig);
    auto r = s.process->wait();
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("Stopped\n") != std::string::npos);
    reader.join();
  }
}

TEST_CASE("serve without a pipeline shows what the state holds", "[e2e][serve]") {
  TempDir dir;
  dir.write("pipeline.lua", diamond(dir, false));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 0);
  Served s = serve(dir, {"--port", "0"});  // the state of the current directory (or $OCHRE_STATE)
  json graph = s.get("/api/graph");
  REQUIRE(graph["nodes"].size() == 4);
  for (const auto& n : graph["nodes"]) CHECK(n["status"] == "applied");
  CHECK(s.get("/api/plan")["jobs"].empty());
  CHECK(s.get("/api/component?key=Step/root")["history"].size() == 1);
  CHECK(s.stop() == 0);
}

TEST_CASE("serve colours planned updates and deletes, failed and pending components", "[e2e][serve]") {
  TempDir dir;
  auto pipeline = [](int n, bool with_gone) {
    return std::string(R"(local ochre = require "ochre"
local Step = ochre.component "Step" { fields = { n = 1 }, create = function(self) end, update = function(self) end }
local Bad = ochre.component "Bad" { create = function(self) error("boom") end }
local Later = ochre.component "Later" { create = function(self) return ochre.pending "later" end }
return { Step "a" { n = )") + std::to_string(n) + " }, Bad \"bad\" {}, Later \"later\" {}" +
           (with_gone ? ", Step \"gone\" {}" : "") + " }\n";
  };
  dir.write("pipeline.lua", pipeline(1, true));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 1);
  dir.write("pipeline.lua", pipeline(2, false));
  Served s = serve(dir, {"pipeline.lua", "--port", "0"});
  auto st = statuses(s);
  CHECK(st == std::map<std::string, std::string>{
                  {"Step/a", "update"}, {"Step/gone", "delete"}, {"Bad/bad", "failed"}, {"Later/later", "pending"}});
  json bad = s.get("/api/component?key=Bad/bad");
  CHECK(bad["stored"]["error"].get<std::string>().find("boom") != std::string::npos);
  REQUIRE(bad["jobs"].size() == 1);
  CHECK(bad["jobs"][0]["outcome"] == "failed");
  json a = s.get("/api/component?key=Step/a");
  CHECK(a["planned"]["action"] == "update");
  REQUIRE(a["planned"]["changes"].size() == 1);
  CHECK(a["planned"]["changes"][0]["field"] == "n");
  CHECK(a["planned"]["changes"][0]["before"] == 1);
  CHECK(a["planned"]["changes"][0]["after"] == 2);
  CHECK(s.stop() == 0);
}

TEST_CASE("serve's plan is what `ochre plan --json` prints: every job, each component's planned node",
          "[e2e][serve]") {
  TempDir dir;
  // An update (a float, a nested map), a replace (a breaking field, through a sub-component),
  // a deletion, a retry, and a sensitive field whose values are never shown.
  auto pipeline = [](const std::string& v, const std::string& model, bool with_gone) {
    return R"(local ochre = require "ochre"
local Step = ochre.component "Step" {
  fields = { n = 1, x = 0.5, cfg = {}, model = "a", token = "", inputs = {} },
  breaks = { "model" }, sensitive = { "token" },
  create = function(self) if self.identifier == "bad" then error("boom") end end,
  update = function(self) end,
}
local leaf = Step "leaf" { n = )" + v + R"(, x = )" + v + R"(.25, token = "s)" + v + R"(" }
return { Step "top" { inputs = { leaf }, model = ")" + model + R"(", cfg = { deep = { list = { 1, 2.5, "three" } } } },
         Step "bad" {} )" + (with_gone ? std::string(R"(, Step "gone" {} )") : "") + "}\n";
  };
  dir.write("pipeline.lua", pipeline("1", "a", true));
  REQUIRE(dir.ochre({"run", "pipeline.lua"}).code == 1);
  dir.write("pipeline.lua", pipeline("2", "b", false));
  e2e::Result planned = dir.ochre({"plan", "pipeline.lua", "--json"});
  REQUIRE(planned.code == 0);
  json plan = json::parse(planned.out);
  REQUIRE(plan["jobs"].size() >= 5);
  Served s = serve(dir, {"pipeline.lua", "--port", "0"});
  CHECK(s.get("/api/plan")["jobs"] == plan["jobs"]);
  for (const auto& n : plan["nodes"]) {
    json c = s.get("/api/component?key=" + n["key"].get<std::string>());
    json expected = {{"action", n["action"]}, {"reason", n["reason"]}, {"changes", n["changes"]},
                     {"inputs", n["inputs"]},  {"uuid", n["uuid"]},     {"hash", n["hash"]},
                     {"deps", n["deps"]},      {"site", n["site"]}};
    CHECK(c["planned"] == expected);
  }
  json gone = s.get("/api/component?key=Step/gone");
  CHECK(gone["planned"]["action"] == "delete");
  CHECK(gone["planned"]["hash"] == gone["stored"]["hash"]);
  CHECK(s.get("/api/component?key=Step/leaf").dump().find("s2") == std::string::npos);  // sensitive
  CHECK(s.stop() == 0);
}
