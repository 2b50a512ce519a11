// Shared by the scheduler tests: a Lua prelude with small file helpers for hooks, and the
// jobs of a run read back from the journal.
#pragma once
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/harness.hpp"
#include "e2e/helpers.hpp"

namespace e2e {

// Hooks signal the test (and wait for it) through files in DIR: `touch(name)`,
// `append(name, line)` (one line, one write) and `exists(name)`.
inline std::string sched_prelude(const TempDir& dir) {
  return subst(R"(local ochre = require "ochre"
local DIR = "{{DIR}}"
local function path(name) return DIR .. "/" .. name end
local function touch(name) local f = assert(io.open(path(name), "a")) f:close() end
local function append(name, line)
  local f = assert(io.open(path(name), "a"))
  f:write(line .. "\n")
  f:close()
end
local function exists(name) local f = io.open(path(name)) if f then f:close() return true end return false end
)", "DIR", dir.path());
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

struct JobRow {
  std::string key, started, ended, outcome;
};

// The jobs of run `run` by key (timestamps are ISO-8601 with milliseconds: string order
// is time order).
inline std::map<std::string, JobRow> jobs_of_run(const TempDir& dir, int run) {
  std::map<std::string, JobRow> out;
  for (const auto& row : dir.query("SELECT key, started, ended, outcome FROM jobs WHERE run = " +
                                   std::to_string(run) + " ORDER BY id")) {
    auto f = split(row, '|');
    f.resize(4);
    out[f[0]] = JobRow{f[0], f[1], f[2], f[3]};
  }
  return out;
}

// The jobs of run `run` as "key started ended outcome" lines, for INFO.
inline std::string journal_text(const TempDir& dir, int run) {
  std::string text;
  for (const auto& row : dir.query("SELECT key, started, ended, outcome FROM jobs WHERE run = " +
                                   std::to_string(run) + " ORDER BY started, id"))
    text += row + "\n";
  return text;
}

inline const std::string no_changes = "No changes needed \xe2\x80\x93 doing nothing!\n";

}  // namespace e2e
