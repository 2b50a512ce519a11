// Sensitive values kept out of every trace of a run (issue 22, finding 2): a hook's
// error, a failing command's line and output, what hooks print, the journal, the page's
// API (which reads the journal) and webhooks (the outbox) show "(sensitive)" instead.
#include <catch2/catch.hpp>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

using e2e::count;
using e2e::TempDir;

namespace {

const char* const secret = "hunter2-very-secret";

const std::string pipeline = R"(local ochre = require "ochre"
local Db = ochre.component "Db" {
  sensitive = { "password" },
  fields = { password = ochre.required, mode = "sh" },
  create = function(self)
    print("connecting with " .. self.password)
    if self.mode == "sh" then ochre.sh_ok("echo using " .. self.password .. "; false") end
    error("login refused for " .. self.password)
  end,
}
return { Db "a" { password = os.getenv("PW") }, Db "b" { password = os.getenv("PW") .. "!", mode = "lua" } }
)";

}  // namespace

TEST_CASE("a sensitive value quoted by a hook's error, a command line or output is shown, "
          "recorded and sent as (sensitive)",
          "[e2e][secrets][redaction]") {
  TempDir dir;
  dir.write("pipeline.lua", pipeline);
  auto r = dir.ochre({"run", "pipeline.lua", "--notify", "http://127.0.0.1:9/hook", "--notify-timeout", "0"},
                     {{"PW", secret}, {"OCHRE_NOTIFY_SECRET", "s3cr3t-for-hmac"}});
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.out.find(secret) == std::string::npos);
  CHECK(r.err.find(secret) == std::string::npos);
  CHECK(count(r.out + r.err, "(sensitive)") >= 4);
  CHECK(count(r.err, "login refused for (sensitive)\n") == 1);  // "!" is part of b's value
  for (const auto& row : dir.query("SELECT key || ' ' || error || ' ' || output FROM jobs")) {
    CHECK(row.find(secret) == std::string::npos);
    CHECK(row.find("(sensitive)") != std::string::npos);
  }
  auto bodies = dir.query("SELECT body FROM outbox WHERE event = 'job.failed'");
  CHECK(bodies.size() == 2);
  for (const auto& body : bodies) {
    CHECK(body.find(secret) == std::string::npos);
    CHECK(body.find("(sensitive)") != std::string::npos);
  }
  auto log = dir.ochre({"log", "--json"});
  CHECK(log.out.find(secret) == std::string::npos);
}
