// What `ochre run` and `ochre destroy` print besides the table and the live display:
// `--json`'s stream of events, one JSON object a line, and the question asked before
// deleting or replacing.
#pragma once
#include <string>
#include <string_view>

#include "ochre/ochre.hpp"

namespace ochre::cli {

// `run --json` / `destroy --json` on stdout, one object a line, each with its "type":
//   {"type":"run.started","command":"run","file":"p.lua"}
//   {"type":"output","text":"..."}            what the pipeline printed while it loaded
//   {"type":"plan","plan":{...}}             as `plan --json` prints it
//   {"type":"job.started","index":0,"key":"T/a","action":"create","details":"T/a/<uuid>.create"}
//   {"type":"job.output","key":"T/a","line":"..."}
//   {"type":"job.finished","index":0,"key":"T/a","action":"create","outcome":"done","error":""}
//   {"type":"interrupted","signals":1}
//   {"type":"run.finished","exit_code":0,"nothing_to_do":false,"summary":"1 done","done":1,...}
// Strings are UTF-8: a byte that is not part of valid UTF-8 becomes U+FFFD, as in every
// --json (docs/hashing.md, "Machine output").
class JsonEvents {
 public:
  void run_started(const std::string& command, const std::string& file);
  void output(std::string_view text);
  void plan(const std::string& plan_json);
  void job_output(const std::string& key, std::string_view line);
  Callbacks callbacks();
  void run_finished(const RunResult& r);
};

// Before an apply that deletes or replaces: lists what is deleted and asks "Delete N
// components? [y/N]" when stdin and stdout are terminals (on stderr with --json); true
// to go on. Never asks when `yes`, when nothing is deleted, or without a terminal.
bool confirm_deletes(const Engine& engine, bool yes, bool json);

}  // namespace ochre::cli
