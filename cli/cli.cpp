#include "cli/cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/progress.hpp"
#include "cli/repl.hpp"
#include "cli/watch.hpp"
#include "ochre/errors.hpp"
#include "ochre/ochre.hpp"
#include "ochre/state.hpp"
#include "serve/serve.hpp"

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
    "  graph FILE [--format dot|mermaid]\n"
    "                  the planned graph, nodes marked with their planned action\n"
    "  state list | show KEY | rm KEY | mv OLD NEW\n"
    "                  what is stored; rm forgets KEY without deleting it; mv renames\n"
    "                  an identifier without re-creating it\n"
    "  state migrate --from STATE --to STATE [FILE]\n"
    "                  copy a whole state between SQLite and PostgreSQL into an empty\n"
    "                  one, then check the copy (and, with FILE, that both plan alike)\n"
    "  log [--limit N] the runs, newest first, with their jobs\n"
    "  repl [FILE]     explore a pipeline: Lua, :plan, :explain, :step through the jobs\n"
    "  watch FILE [--every DURATION]\n"
    "                  apply, then again whenever a watched file changes (or on a\n"
    "                  schedule: 30s, 5m, 1h), until Ctrl-C\n"
    "  test FILE       apply into a throw-away state, run the file's tests, destroy\n"
    "  enter FILE KEY [METHOD]\n"
    "                  call METHOD (default: enter) of the applied instance KEY\n"
    "  history KEY     every stored version of KEY\n"
    "  serve [FILE] [--port 8080] [--host 127.0.0.1] [--allow-apply]\n"
    "                  a web page on the pipeline's graph (statuses live while another\n"
    "                  ochre applies), plan, runs and each component's history; read-only\n"
    "                  unless --allow-apply; without FILE, the state alone; Ctrl-C stops\n"
    "\n"
    "Options:\n"
    "  --state STATE   a SQLite file or postgres://user@host:port/db (default: $OCHRE_STATE,\n"
    "                  else the pipeline's ochre.settings { state = ... }, else\n"
    "                  .ochre/state.db beside FILE)\n"
    "  --workspace NAME\n"
    "                  an independent state within STATE, with its own lock (default:\n"
    "                  $OCHRE_WORKSPACE, else the pipeline's setting, else 'default')\n"
    "  -j, --jobs N    jobs at once (default: twice the cores, at least 4)\n"
    "  --fail-fast     after a failure, start no new jobs\n"
    "  --lock-timeout SECONDS\n"
    "                  wait this long for another ochre on the same state (default 0)\n"
    "  --timeout SECONDS\n"
    "                  a hook may take this long, unless its lifecycle says otherwise;\n"
    "                  past it the job fails and its commands are killed (default: none)\n"
    "  --color WHEN    auto (default), always or never; NO_COLOR turns it off\n"
    "  --target KEY    plan only KEY and what it depends on (repeatable)\n"
    "  --replace KEY   replace KEY even if unchanged (repeatable)\n"
    "  --dry-run       with run/destroy: plan only\n"
    "  --notify URL    post every event of the applies (run.started, run.finished,\n"
    "                  run.failed, job.failed, component.replaced) to this webhook,\n"
    "                  signed with $OCHRE_NOTIFY_SECRET (repeatable; see README)\n"
    "  --notify-timeout SECONDS\n"
    "                  at the end of an apply, wait this long for notifications not\n"
    "                  delivered yet (default 5); the rest go out with the next apply\n"
    "  --port N        serve: the port (default 8080; 0: any free one)\n"
    "  --host ADDR     serve: the address (default 127.0.0.1, this machine only)\n"
    "  --allow-apply   serve: an Apply button that applies the pipeline in the server\n"
    "  --json          JSON instead of text (plan, graph aside, state, log, history)\n"
    "  -h, --help      this help\n"
    "  --version       print the version\n"
    "\n"
    "Exit codes: 0 done, 1 a job failed, 2 bad pipeline or usage, 3 state locked, 4 the state\n"
    "could not be written during the run (what finished before is recorded: run again).\n";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::string state, workspace, from, to;
  bool dry_run = false;
  bool json = false;
  int jobs = 0;
  bool fail_fast = false;
  double lock_timeout = 0;
  double timeout = 0;
  std::string color = "auto";
  std::string format = "dot";
  std::string every;
  int limit = 20;
  std::vector<std::string> targets, replace;
  std::vector<std::string> notify;
  double notify_timeout = 5;
  std::string host = "127.0.0.1";
  int port = 8080;
  bool allow_apply = false;
};

double number_arg(const std::string& name, const std::string& text, double min) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !(v >= min))
    fail(Msg::OptionNumber, {name, std::to_string(static_cast<int>(min)), text});
  return v;
}

int int_arg(const std::string& name, const std::string& text, double min) {
  double v = number_arg(name, text, min);
  if (v != static_cast<double>(static_cast<int>(v)))
    fail(Msg::OptionInteger, {name, std::to_string(static_cast<int>(min)), text});
  return static_cast<int>(v);
}

int port_arg(const std::string& text) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || v < 0 || v > 65535)
    fail(Msg::OptionPort, {text});
  return static_cast<int>(v);
}

Args parse(int argc, char** argv) {
  Args a;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& name) -> std::string {
      auto eq = arg.find('=');
      if (eq != std::string::npos) return arg.substr(eq + 1);
      if (i + 1 >= argc) fail(Msg::OptionNeedsValue, {name});
      return argv[++i];
    };
    if (!options_done && arg.size() > 1 && arg[0] == '-') {
      std::string name = arg.substr(0, arg.find('='));
      if (arg == "--") options_done = true;
      else if (name == "--state") {
        a.state = value(name);
        if (a.state.empty()) fail(Msg::OptionStateEmpty);
      }
      else if (name == "--workspace") a.workspace = value(name);
      else if (name == "--from") a.from = value(name);
      else if (name == "--to") a.to = value(name);
      else if (arg == "--dry-run") a.dry_run = true;
      else if (name == "-j" || name == "--jobs") a.jobs = int_arg(name, value(name), 1);
      else if (arg.rfind("-j", 0) == 0 && arg.size() > 2 && arg[2] != '-') a.jobs = int_arg("-j", arg.substr(2), 1);
      else if (arg == "--fail-fast") a.fail_fast = true;
      else if (name == "--target") a.targets.push_back(value(name));
      else if (name == "--replace") a.replace.push_back(value(name));
      else if (name == "--format") a.format = value(name);
      else if (name == "--every") a.every = value(name);
      else if (name == "--limit") a.limit = int_arg(name, value(name), 0);
      else if (name == "--lock-timeout") a.lock_timeout = number_arg(name, value(name), 0);
      else if (name == "--timeout") a.timeout = number_arg(name, value(name), 0);
      else if (name == "--notify") a.notify.push_back(value(name));
      else if (name == "--notify-timeout") a.notify_timeout = number_arg(name, value(name), 0);
      else if (name == "--port") a.port = port_arg(value(name));
      else if (name == "--host") {
        a.host = value(name);
        if (a.host.empty()) fail(Msg::OptionHost);
      }
      else if (arg == "--allow-apply") a.allow_apply = true;
      else if (name == "--color") {
        a.color = value(name);
        if (a.color != "auto" && a.color != "always" && a.color != "never")
          fail(Msg::OptionColor);
      }
      else if (arg == "-v" || arg == "--verbose") {}
      else if (arg == "--json") a.json = true;
      else if (arg == "-h" || arg == "--help") a.command = "help";
      else if (arg == "--version") a.command = "version";
      else fail(Msg::OptionUnknown, {arg});
      continue;
    }
    if (a.command.empty()) a.command = arg;
    else a.positional.push_back(arg);
  }
  if (a.command.empty()) fail(Msg::NoCommand);
  return a;
}

// The --notify webhooks, with the secret from the environment (never from the command
// line, where other users could read it).
std::vector<Webhook> webhooks(const Args& a) {
  std::vector<Webhook> out;
  if (a.notify.empty()) return out;
  for (const auto& url : a.notify) {
    std::string problem = webhook_url_problem(url);
    if (!problem.empty()) fail(Msg::NotifyUrl, {url, problem});
  }
  const char* secret = std::getenv("OCHRE_NOTIFY_SECRET");
  if (!secret || !*secret) fail(Msg::NotifyNoSecretEnv);
  for (const auto& url : a.notify) out.push_back({url, secret, {}});
  return out;
}

// Says what an apply left for the next one to deliver.
void report_undelivered(const RunResult& r) {
  if (r.undelivered == 0) return;
  std::cout << "note: " << (r.undelivered < 0 ? std::string("some") : std::to_string(r.undelivered))
            << (r.undelivered == 1 ? " notification" : " notifications") << " not delivered yet ("
            << r.notify_error << "); the next run sends "
            << (r.undelivered == 1 ? "it" : "them") << "\n" << std::flush;
}

Options engine_options(const Args& a) {
  Options o;
  o.state_path = a.state;
  o.jobs = a.jobs;
  o.fail_fast = a.fail_fast;
  o.lock_timeout = a.lock_timeout;
  o.timeout = a.timeout;
  o.targets = a.targets;
  o.replace = a.replace;
  o.notify = webhooks(a);
  o.notify_timeout = a.notify_timeout;
#ifdef OCHRE_JEMALLOC
  o.lua_uses_malloc = true;  // jemalloc on huge pages (main.cpp) is the faster for Lua too
#endif
  // Commands run through ochre-spawn beside this binary, or else through `ochre __spawn`.
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    o.spawn_helper.assign(exe, n);
    std::string sibling = o.spawn_helper.substr(0, o.spawn_helper.rfind('/') + 1) + "ochre-spawn";
    if (access(sibling.c_str(), X_OK) == 0) o.spawn_helper = sibling;
  }
  if (o.state_path.empty()) {
    const char* env = std::getenv("OCHRE_STATE");
    if (env && *env) o.state_path = env;
  }
  o.workspace = a.workspace;
  if (o.workspace.empty()) {
    const char* env = std::getenv("OCHRE_WORKSPACE");
    if (env && *env) o.workspace = env;
  }
  if (!o.workspace.empty() && !valid_workspace(o.workspace)) fail(Msg::WorkspaceName, {o.workspace});
  return o;
}

const std::string& need_file(const Args& a) {
  if (a.positional.empty()) fail(Msg::NeedsFile, {a.command});
  return a.positional[0];
}

// The end of a command that planned: the state is closed and the lock released, and the
// memory of the plan and of Lua goes back with the process, not one free() at a time
// (a tenth of a second for 100,000 components). Builds with AddressSanitizer free it all,
// so that its leak check still sees everything.
int finish(Engine& engine, int code) {
#if !defined(__SANITIZE_ADDRESS__)
  engine.close_state();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
#endif
  return code;
}

// Each line a job prints: through the live display while one is shown (`progress`,
// set later), else as "[key] line".
std::function<void(const std::string&, std::string_view)> job_lines(Progress*& progress) {
  return [&progress](const std::string& key, std::string_view line) {
    if (progress) progress->job_output(key, line);
    else std::cout << "[" << key << "] " << line << "\n" << std::flush;
  };
}

int cmd_run(const Args& a, bool destroy) {
  Options opts = engine_options(a);
  opts.read_state_ahead = true;
  bool tty = isatty(STDERR_FILENO);
  Progress* progress = nullptr;
  opts.job_output = job_lines(progress);
  Engine engine(opts);
  engine.load_file(need_file(a));
  if (!a.dry_run) engine.lock();  // plan against the state no other ochre is changing
  if (destroy) {
    std::vector<std::string> keys(a.positional.begin() + 1, a.positional.end());
    engine.plan_destroy(keys);
  } else {
    if (a.positional.size() > 1) fail(Msg::TakesOneFile, {a.command});
    engine.plan();
  }
  engine.plan_table([](std::string_view piece) { std::cout << piece; });
  for (int i = 0, n = engine.job_count(); i < n; ++i) {  // one at a time: plans can be long
    JobInfo job = engine.job(i);
    if (job.why == JobReason::Retry || job.why == JobReason::Pending)
      std::cout << "note: " << job.details << ": " << job.reason << "\n";
  }
  std::cout << std::flush;
  if (a.dry_run) return finish(engine, 0);
  Progress shown(engine.job_count(), tty, use_color(a.color));
  progress = &shown;
  RunResult r;
  bool jobs_started = false;
  try {
    Callbacks callbacks = shown.callbacks();
    callbacks.started = [&jobs_started, started = callbacks.started](const auto& job) {
      jobs_started = true;
      if (started) started(job);
    };
    r = engine.apply(callbacks);
  } catch (const Error& e) {
    if (e.code() != Code::State || !jobs_started) throw;  // nothing ran: exit 2 as before
    // Jobs ran and what finished is recorded: not "bad input, nothing written" (exit 2).
    shown.clear();
    std::cout << std::flush;
    std::cerr << "error: " << message(Msg::StateWriteInRun, {e.display()}) << "\n";
    return 4;
  }
  shown.clear();
  progress = nullptr;
  if (r.nothing_to_do) {
    report_undelivered(r);
    return finish(engine, 0);
  }
  std::cout << shown.bold() << r.summary << shown.reset() << "\n";
  report_undelivered(r);
  return finish(engine, r.exit_code());
}

int cmd_plan(const Args& a) {
  if (a.positional.size() > 1) fail(Msg::TakesOneFile, {"plan"});
  Options opts = engine_options(a);
  opts.read_state_ahead = true;
  Engine engine(opts);
  engine.load_file(need_file(a));
  engine.plan();
  if (a.json) std::cout << engine.plan_json();
  else engine.plan_table([](std::string_view piece) { std::cout << piece; });
  return finish(engine, 0);
}

int cmd_explain(const Args& a) {
  if (a.positional.size() != 2) fail(Msg::ExplainTakes);
  Engine engine(engine_options(a));
  engine.load_file(a.positional[0]);
  engine.plan();
  std::cout << engine.explain(a.positional[1]);
  return 0;
}

int cmd_graph(const Args& a) {
  if (a.positional.size() != 1) fail(Msg::TakesOneFile, {"graph"});
  if (a.format != "dot" && a.format != "mermaid") fail(Msg::GraphFormat);
  Engine engine(engine_options(a));
  engine.load_file(a.positional[0]);
  engine.plan();
  std::cout << (a.json ? engine.plan_json() : engine.graph(a.format));
  return 0;
}

int cmd_state(const Args& a) {
  const auto& p = a.positional;
  std::string sub = p.empty() ? "list" : p[0];
  auto want = [&](size_t n, const char* shape) {
    if (p.size() != n) fail(Msg::StateUsage, {shape});
  };
  Engine engine(engine_options(a));
  if (sub == "list") {
    want(p.empty() ? 0 : 1, "list");
    std::cout << engine.state_list(a.json);
  } else if (sub == "show") {
    want(2, "show KEY");
    std::cout << engine.state_show(p[1], a.json);
  } else if (sub == "rm") {
    want(2, "rm KEY");
    engine.state_rm(p[1]);
    std::cout << "Forgot " << p[1] << " (nothing was deleted; the next run creates it again if the pipeline still has it)\n";
  } else if (sub == "mv") {
    want(3, "mv OLD NEW");
    engine.state_mv(p[1], p[2]);
    std::cout << "Moved " << p[1] << " to " << p[2] << "\n";
  } else {
    fail(Msg::StateUnknownCommand, {sub});
  }
  return 0;
}

// ochre state migrate --from A --to B [FILE]
int cmd_state_migrate(const Args& a) {
  if (a.from.empty() || a.to.empty()) fail(Msg::MigrateUsage);
  if (a.positional.size() > 2) fail(Msg::TakesAtMostOneFile, {"state migrate"});
  Options base = engine_options(a);
  std::string workspace = base.workspace.empty() ? default_workspace : base.workspace;
  std::string file = a.positional.size() == 2 ? a.positional[1] : "";
  // The plan before, against the original; after, the same against the copy.
  auto plan_against = [&](const std::string& state) {
    Options o = base;
    o.state_path = state;
    o.workspace = workspace;
    Engine engine(o);
    engine.load_file(file);
    engine.plan();
    return engine.plan_table();
  };
  std::string before = file.empty() ? "" : plan_against(a.from);
  MigrateReport r = migrate_state(a.from, a.to, workspace, a.lock_timeout);
  std::cout << "Copied " << r.instances << " instances, " << r.roots << " roots, " << r.runs << " runs, "
            << r.jobs << " jobs and " << r.versions << " versions from " << redact_location(a.from) << " to "
            << redact_location(a.to) << (workspace == default_workspace ? "" : " (workspace " + workspace + ")")
            << "; the copy reads back the same\n";
  if (!file.empty()) {
    std::string after = plan_against(a.to);
    if (after != before) fail(Msg::MigratePlansDiffer, {redact_location(a.to), before, after});
    std::cout << "Plans of " << file << " match:\n" << after;
  }
  return 0;
}

int cmd_test(const Args& a) {
  if (a.positional.size() != 1) fail(Msg::TakesOneFile, {"test"});
  Options opts = engine_options(a);
  std::string tmpl = (std::filesystem::temp_directory_path() / "ochre-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) fail(Msg::TestStateDir, {tmpl});
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{tmpl};
  opts.state_path = tmpl + "/state.db";
  opts.workspace.clear();
  bool tty = isatty(STDERR_FILENO);
  Progress* progress = nullptr;
  opts.job_output = job_lines(progress);
  Engine engine(opts);
  engine.load_file(a.positional[0]);
  engine.plan();
  std::cout << engine.plan_table() << std::flush;
  Progress shown(engine.job_count(), tty, use_color(a.color));
  progress = &shown;
  RunResult applied = engine.apply(shown.callbacks());
  shown.clear();
  progress = nullptr;
  std::cout << "apply: " << (applied.nothing_to_do ? "nothing to do" : applied.summary) << "\n";
  int passed = 0, failed = 0;
  if (applied.exit_code() == 0) {
    for (const auto& t : engine.run_tests()) {
      if (t.passed) {
        ++passed;
        std::cout << "ok      " << t.name << "\n";
      } else {
        ++failed;
        std::cout << "FAILED  " << t.name << ": " << t.message << "\n";
      }
    }
  }
  engine.plan_destroy();
  RunResult destroyed = engine.apply();
  std::cout << "destroy: " << (destroyed.nothing_to_do ? "nothing to do" : destroyed.summary) << "\n";
  std::cout << passed << " passed, " << failed << " failed\n";
  return applied.exit_code() || destroyed.exit_code() || failed ? 1 : 0;
}

int cmd_enter(const Args& a) {
  if (a.positional.size() < 2 || a.positional.size() > 3) fail(Msg::EnterTakes);
  Engine engine(engine_options(a));
  engine.load_file(a.positional[0]);
  engine.plan();
  engine.enter(a.positional[1], a.positional.size() == 3 ? a.positional[2] : "enter");
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
  if (a.command == "graph") return cmd_graph(a);
  if (a.command == "test") return cmd_test(a);
  if (a.command == "enter") return cmd_enter(a);
  if (a.command == "watch") {
    if (a.positional.size() != 1) fail(Msg::TakesOneFile, {"watch"});
    return run_watch(a.positional[0], engine_options(a), a.every.empty() ? 0 : parse_duration(a.every));
  }
  if (a.command == "repl") {
    if (a.positional.size() > 1) fail(Msg::TakesAtMostOneFile, {"repl"});
    return run_repl(a.positional.empty() ? "" : a.positional[0], engine_options(a));
  }
  if (a.command == "state" && !a.positional.empty() && a.positional[0] == "migrate") return cmd_state_migrate(a);
  if (a.command == "state") return cmd_state(a);
  if (a.command == "serve") {
    if (a.positional.size() > 1) fail(Msg::TakesAtMostOneFile, {"serve"});
    ServeOptions serve;
    serve.file = a.positional.empty() ? "" : a.positional[0];
    serve.host = a.host;
    serve.port = a.port;
    serve.allow_apply = a.allow_apply;
    return run_serve(serve, engine_options(a));
  }
  if (a.command == "log") {
    if (!a.positional.empty()) fail(Msg::LogTakes);
    Engine engine(engine_options(a));
    std::cout << engine.log(a.limit, a.json);
    return 0;
  }
  if (a.command == "history") {
    if (a.positional.size() != 1) fail(Msg::HistoryTakes);
    Engine engine(engine_options(a));
    std::cout << engine.history(a.positional[0], a.json);
    return 0;
  }
  fail(Msg::UnknownCommand, {a.command});
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // Past a file-size limit (ulimit -f) a write fails with EFBIG instead of killing ochre
  // mid-job: SQLite reports it and the run ends with an error, the state consistent.
  // (Commands get the default back: libuv resets signal dispositions when it spawns.)
  signal(SIGXFSZ, SIG_IGN);
  try {
    return dispatch(parse(argc, argv));
  } catch (const Error& e) {
    std::cout << std::flush;
    std::cerr << "error: " << e.display() << "\n";
    return exit_status(e.kind());
  } catch (const std::exception& e) {
    std::cout << std::flush;
    std::cerr << "error: " << message(Code::Internal, {e.what()}) << "\n";
    return exit_status(ErrorKind::Internal);
  }
}

}  // namespace ochre::cli
