#include "repl/cli.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "ochre/ochre.hpp"

namespace ochre::cli {
namespace {

const char* const usage_text =
    "usage: ochre COMMAND [OPTIONS] ...\n"
    "\n"
    "Commands:\n"
    "  run FILE        plan, then apply the pipeline FILE returns (also: apply)\n"
    "  plan FILE       show the plan without running it (--json for machines)\n"
    "  destroy FILE [KEY...]\n"
    "                  delete what FILE applied, dependents first (or only KEYs and\n"
    "                  what depends on them)\n"
    "  explain FILE KEY\n"
    "                  why KEY is planned as it is: each changed field, old -> new\n"
    "\n"
    "Options:\n"
    "  --state PATH    the state file (default: .ochre/state.db beside FILE, or $OCHRE_STATE)\n"
    "  --dry-run       with run/destroy: plan only\n"
    "  --json          with plan: print JSON\n"
    "  -h, --help      this help\n"
    "  --version       print the version\n"
    "\n"
    "Exit codes: 0 done, 1 a job failed, 2 bad pipeline or usage, 3 state locked.\n";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::string state;
  bool dry_run = false;
  bool json = false;
};

[[noreturn]] void usage_error(const std::string& what) { fail(Code::Usage, {what}); }

Args parse(int argc, char** argv) {
  Args a;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& name) -> std::string {
      auto eq = arg.find('=');
      if (eq != std::string::npos) return arg.substr(eq + 1);
      if (i + 1 >= argc) usage_error("option " + name + " needs a value");
      return argv[++i];
    };
    if (!options_done && arg.size() > 1 && arg[0] == '-') {
      std::string name = arg.substr(0, arg.find('='));
      if (arg == "--") options_done = true;
      else if (name == "--state") a.state = value(name);
      else if (arg == "--dry-run") a.dry_run = true;
      else if (arg == "--json") a.json = true;
      else if (arg == "-h" || arg == "--help") a.command = "help";
      else if (arg == "--version") a.command = "version";
      else usage_error("unknown option '" + arg + "'");
      continue;
    }
    if (a.command.empty()) a.command = arg;
    else a.positional.push_back(arg);
  }
  if (a.command.empty()) usage_error("no command given");
  return a;
}

Options engine_options(const Args& a) {
  Options o;
  o.state_path = a.state;
  if (o.state_path.empty()) {
    const char* env = std::getenv("OCHRE_STATE");
    if (env && *env) o.state_path = env;
  }
  return o;
}

const std::string& need_file(const Args& a) {
  if (a.positional.empty()) usage_error("'" + a.command + "' needs a pipeline FILE");
  return a.positional[0];
}

int report_failures(const RunResult& r) {
  std::cout << r.summary << "\n";
  return r.exit_code();
}

Callbacks print_callbacks() {
  Callbacks cb;
  cb.finished = [](const JobInfo& job, const JobEnd& end) {
    if (end.outcome == "failed") {
      std::cerr << "error: " << end.error << "\n";
    } else if (end.outcome == "skipped") {
      std::cerr << "skipped: " << job.details << " (" << end.error << ")\n";
    } else if (end.outcome == "pending") {
      std::cout << "pending: " << job.details << " (" << end.error << ")\n";
    }
  };
  return cb;
}

int cmd_run(const Args& a, bool destroy) {
  Engine engine(engine_options(a));
  engine.load_file(need_file(a));
  if (destroy) {
    std::vector<std::string> keys(a.positional.begin() + 1, a.positional.end());
    engine.plan_destroy(keys);
  } else {
    if (a.positional.size() > 1) usage_error("'" + a.command + "' takes one FILE");
    engine.plan();
  }
  std::cout << engine.plan_table();
  for (const JobInfo& job : engine.jobs())
    if (job.reason.rfind("retry", 0) == 0 || job.reason.rfind("pending", 0) == 0)
      std::cout << "note: " << job.details << ": " << job.reason << "\n";
  std::cout << std::flush;
  if (a.dry_run) return 0;
  RunResult r = engine.apply(print_callbacks());
  if (r.nothing_to_do) return 0;
  return report_failures(r);
}

int cmd_plan(const Args& a) {
  if (a.positional.size() > 1) usage_error("'plan' takes one FILE");
  Engine engine(engine_options(a));
  engine.load_file(need_file(a));
  engine.plan();
  std::cout << (a.json ? engine.plan_json() : engine.plan_table());
  return 0;
}

int cmd_explain(const Args& a) {
  if (a.positional.size() != 2) usage_error("'explain' takes a FILE and a KEY");
  Engine engine(engine_options(a));
  engine.load_file(a.positional[0]);
  engine.plan();
  std::cout << engine.explain(a.positional[1]);
  return 0;
}

int dispatch(const Args& a) {
  if (a.command == "help") {
    std::cout << usage_text;
    return 0;
  }
  if (a.command == "version") {
    std::cout << "ochre 0.1.0\n";
    return 0;
  }
  if (a.command == "run" || a.command == "apply") return cmd_run(a, false);
  if (a.command == "destroy") return cmd_run(a, true);
  if (a.command == "plan") return cmd_plan(a);
  if (a.command == "explain") return cmd_explain(a);
  usage_error("unknown command '" + a.command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(parse(argc, argv));
  } catch (const Error& e) {
    std::cout << std::flush;
    std::cerr << "error: " << e.display() << "\n";
    return exit_status(e.kind());
  } catch (const std::exception& e) {
    std::cout << std::flush;
    std::cerr << "error: internal error (a bug in ochre): " << e.what() << "\n";
    return exit_status(ErrorKind::Internal);
  }
}

}  // namespace ochre::cli
