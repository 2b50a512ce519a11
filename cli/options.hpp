// The ochre program's command line: each command with its own options (parsed with
// CLI11), the global help and each command's help (`ochre COMMAND --help`).
#pragma once
#include <string>
#include <vector>

namespace ochre::cli {

struct Args {
  std::string command;  // "help" (help_for: "" or a command), "version", or a command
  std::string help_for;
  std::vector<std::string> positional;
  std::string state, workspace, from, to;
  bool dry_run = false;
  bool json = false;
  bool exit_code = false;  // plan --exit-code: 0 nothing to do, 1 changes
  bool yes = false;        // -y/--yes: do not ask before deleting
  int jobs = 0;
  bool fail_fast = false;
  double lock_timeout = 0;
  std::string color = "auto";
  std::string format = "dot";
  std::string every;
  std::string cron;
  double timeout = 0;
  std::string executor;
  int limit = 20;
  std::vector<std::string> targets, replace, excludes;
  std::vector<std::string> notify;
  double notify_timeout = 5;
  std::string host = "127.0.0.1";
  int port = 8080;
  bool allow_apply = false;
};

// Parses the command line; a bad one throws Error (Code::Usage): an unknown option, one
// of another command (naming it), a misspelt one (suggesting the closest), a bad value.
Args parse(int argc, char** argv);

// `ochre --help`.
extern const char* const usage_text;
// `ochre COMMAND --help`: the command's usage, what it does and its options.
std::string command_help(const std::string& command);

}  // namespace ochre::cli
