#include "cli/cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "cli/progress.hpp"
#include "cli/run_output.hpp"
#include "cli/repl.hpp"
#include "cli/watch.hpp"
#include "ochre/errors.hpp"
#include "ochre/ochre.hpp"
#include "ochre/state.hpp"
#include "serve/serve.hpp"

namespace ochre::cli {
namespace {

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
  o.executor = a.executor;
  o.lock_timeout = a.lock_timeout;
  o.timeout = a.timeout;
  o.targets = a.targets;
  o.replace = a.replace;
  o.excludes = a.excludes;
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

// The table, then what changes and the count (nothing more when there is nothing to do).
void print_plan(const Engine& engine) {
  auto out = [](std::string_view piece) { std::cout << piece; };
  engine.plan_table(out);
  engine.plan_changes(out);
}

int cmd_run(const Args& a, bool destroy) {
  Options opts = engine_options(a);
  opts.read_state_ahead = true;
  bool live = isatty(STDERR_FILENO) && !a.json;
  Progress* progress = nullptr;
  JsonEvents events;
  if (a.json) {
    opts.output = [&events](std::string_view text) { events.output(text); };
    opts.job_output = [&events](const std::string& key, std::string_view line) { events.job_output(key, line); };
  } else {
    opts.job_output = job_lines(progress);
  }
  Engine engine(opts);
  if (a.json) events.run_started(destroy ? "destroy" : "run", need_file(a));
  engine.load_file(need_file(a));
  if (!a.dry_run) engine.lock();  // plan against the state no other ochre is changing
  if (destroy) {
    std::vector<std::string> keys(a.positional.begin() + 1, a.positional.end());
    engine.plan_destroy(keys);
  } else {
    if (a.positional.size() > 1) fail(Msg::TakesOneFile, {a.command});
    engine.plan();
  }
  if (a.json) {
    events.plan(engine.plan_json());
  } else {
    print_plan(engine);
    for (int i = 0, n = engine.job_count(); i < n; ++i) {  // one at a time: plans can be long
      JobInfo job = engine.job(i);
      if (job.why == JobReason::Retry || job.why == JobReason::Pending)
        std::cout << "note: " << job.details << ": " << job.reason << "\n";
    }
  }
  std::cout << std::flush;
  if (a.dry_run) return finish(engine, 0);
  if (!confirm_deletes(engine, a.yes, a.json)) {
    std::cerr << message(Msg::DeleteDeclined) << "\n";
    return finish(engine, 1);
  }
  // Once jobs ran and what finished is recorded, a state that cannot be written is not
  // "bad input, nothing written" (exit 2): exit 4.
  bool jobs_started = false;
  auto counted = [&jobs_started](Callbacks callbacks) {
    callbacks.started = [&jobs_started, started = callbacks.started](const auto& job) {
      jobs_started = true;
      if (started) started(job);
    };
    return callbacks;
  };
  try {
    if (a.json) {
      RunResult r = engine.apply(counted(events.callbacks()));
      events.run_finished(r);
      return finish(engine, r.exit_code());
    }
    Progress shown(engine.job_count(), live, use_color(a.color, STDOUT_FILENO), use_color(a.color, STDERR_FILENO));
    progress = &shown;
    RunResult r = engine.apply(counted(shown.callbacks()));
    shown.finish();
    progress = nullptr;
    if (r.nothing_to_do) {
      report_undelivered(r);
      return finish(engine, 0);
    }
    std::cout << shown.bold() << r.summary << shown.reset() << "\n";
    report_undelivered(r);
    return finish(engine, r.exit_code());
  } catch (const Error& e) {
    progress = nullptr;
    if (e.code() != Code::State || !jobs_started) throw;  // nothing ran: exit 2 as before
    std::cout << std::flush;
    std::cerr << "error: " << message(Msg::StateWriteInRun, {e.display()}) << "\n";
    return 4;
  }
}

int cmd_plan(const Args& a) {
  if (a.positional.size() > 1) fail(Msg::TakesOneFile, {"plan"});
  Options opts = engine_options(a);
  opts.read_state_ahead = true;
  Engine engine(opts);
  engine.load_file(need_file(a));
  engine.plan();
  if (a.json) std::cout << engine.plan_json();
  else print_plan(engine);
  // --exit-code: 1 when there are changes, moves and removals included (2 and 3 keep
  // their meanings).
  return finish(engine, a.exit_code && (engine.job_count() > 0 || engine.plan_edits_state()) ? 1 : 0);
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
  refuse_fifo(file, "compare plans of", "state migrate");
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
  bool live = isatty(STDERR_FILENO);
  Progress* progress = nullptr;
  opts.job_output = job_lines(progress);
  Engine engine(opts);
  engine.load_file(a.positional[0]);
  engine.plan();
  std::cout << engine.plan_table() << std::flush;
  Progress shown(engine.job_count(), live, use_color(a.color, STDOUT_FILENO), use_color(a.color, STDERR_FILENO));
  progress = &shown;
  RunResult applied = engine.apply(shown.callbacks());
  shown.finish();
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

// ochre import FILE KEY
int cmd_import(const Args& a) {
  if (a.positional.size() != 2) fail(Msg::ImportTakes);
  Engine engine(engine_options(a));
  engine.load_file(a.positional[0]);
  engine.import_instance(a.positional[1]);
  std::cout << message(Msg::Imported, {a.positional[1]}) << "\n";
  return finish(engine, 0);
}

int dispatch(const Args& a) {
  if (a.command == "help") {
    std::cout << (a.help_for.empty() ? std::string(usage_text) : command_help(a.help_for));
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
  if (a.command == "import") return cmd_import(a);
  if (a.command == "watch") {
    if (a.positional.size() != 1) fail(Msg::TakesOneFile, {"watch"});
    std::optional<Cron> cron;
    if (!a.cron.empty()) cron = parse_cron(a.cron);
    return run_watch(a.positional[0], engine_options(a), a.every.empty() ? 0 : parse_duration(a.every),
                     cron ? &*cron : nullptr);
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
    refuse_fifo(serve.file, "serve", "serve");
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
  } catch (const std::bad_alloc&) {
    // Out of memory outside Lua (whose own errors say where): the phase says when.
    std::cout << std::flush;
    std::cerr << "error: " << message(Msg::OutOfMemoryIn, {std::string("while ") + current_phase()}) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cout << std::flush;
    std::cerr << "error: " << message(Code::Internal, {e.what()}) << "\n";
    return exit_status(ErrorKind::Internal);
  }
}

}  // namespace ochre::cli
