// The command line, one table of options: which commands take each one, its help, where
// it goes in Args. CLI11 parses a command's own options; what it leaves over is
// explained here (an option of another command, a misspelt one), and the values are
// checked with ochre's own messages.
#include "cli/options.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "ochre/errors.hpp"

namespace ochre::cli {

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
    "  import FILE KEY adopt something that exists as KEY of FILE: its read hook runs\n"
    "                  and it is stored as read (what read returns: its outputs), no\n"
    "                  create\n"
    "  log [--limit N] the runs, newest first, with their jobs\n"
    "  repl [FILE]     explore a pipeline: Lua, :plan, :explain, :step through the jobs\n"
    "  watch FILE [--every DURATION | --cron EXPR]\n"
    "                  apply, then again whenever a watched file changes (or on a\n"
    "                  schedule: 30s, 5m, 1h; or a five-field cron schedule in local\n"
    "                  time, e.g. \"0 3 * * *\"), until Ctrl-C\n"
    "  test FILE       apply into a throw-away state, run the file's tests, destroy\n"
    "  enter FILE KEY [METHOD]\n"
    "                  call METHOD (default: enter) of the applied instance KEY\n"
    "  history KEY     every stored version of KEY\n"
    "  serve [FILE] [--port 8080] [--host 127.0.0.1] [--allow-apply]\n"
    "                  a web page on the pipeline's graph (statuses live while another\n"
    "                  ochre applies), plan, runs and each component's history; read-only\n"
    "                  unless --allow-apply; without FILE, the state alone; Ctrl-C stops\n"
    "\n"
    "Options (each command takes its own: 'ochre COMMAND --help' lists them):\n"
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
    "  --color WHEN    auto (default), always or never; NO_COLOR turns it off\n"
    "  --target KEY    plan only KEY and what it depends on (repeatable)\n"
    "  --exclude KEY   leave KEY and what depends on it out of this run (repeatable)\n"
    "  --replace KEY   replace KEY even if unchanged (repeatable)\n"
    "  --dry-run       with run/destroy: plan only\n"
    "  -y, --yes       with run/destroy: delete without asking\n"
    "  --exit-code     with plan: exit 0 when there is nothing to do, 1 when there are\n"
    "                  changes\n"
    "  --timeout SECONDS\n"
    "                  stop a job that runs longer than this (default: none)\n"
    "  --executor local|slurm\n"
    "                  where commands run (ochre.sh): here, or as Slurm batch jobs; wins\n"
    "                  over the pipeline's ochre.settings { executor = ... }\n"
    "  --notify URL    post every event of the applies (run.started, run.finished,\n"
    "                  run.failed, job.failed, component.replaced) to this webhook,\n"
    "                  signed with $OCHRE_NOTIFY_SECRET (repeatable; see README)\n"
    "  --notify-timeout SECONDS\n"
    "                  at the end of an apply, wait this long for notifications not\n"
    "                  delivered yet (default 5); the rest go out with the next apply\n"
    "  --port N        serve: the port (default 8080; 0: any free one)\n"
    "  --host ADDR     serve: the address (default 127.0.0.1, this machine only)\n"
    "  --allow-apply   serve: an Apply button that applies the pipeline in the server\n"
    "  --json          JSON instead of text (plan, graph aside, state, log, history);\n"
    "                  run and destroy: one JSON object a line as they apply\n"
    "  -h, --help      this help (after a command: that command's)\n"
    "  --version       print the version\n"
    "\n"
    "Exit codes: 0 done, 1 a job failed, 2 bad pipeline or usage, 3 state locked.\n";

namespace {

// Number options are taken as text and checked here, with ochre's messages.
struct Raw {
  std::string jobs, lock_timeout, limit, notify_timeout, port, timeout;
};

struct Command {
  const char* name;
  const char* usage;  // after "ochre "
  const char* about;
};

const Command commands[] = {
    {"run", "run FILE [OPTIONS]", "Plan, then apply the pipeline FILE returns."},
    {"apply", "apply FILE [OPTIONS]", "The same as run."},
    {"plan", "plan FILE [OPTIONS]", "Show the plan without running it."},
    {"destroy", "destroy FILE [KEY...] [OPTIONS]",
     "Delete what FILE applied, dependents first (or only KEYs and what depends on them)."},
    {"explain", "explain FILE KEY [OPTIONS]", "Why KEY is planned as it is: each changed field, old -> new."},
    {"graph", "graph FILE [OPTIONS]", "The planned graph, nodes marked with their planned action."},
    {"state", "state list | show KEY | rm KEY | mv OLD NEW | migrate --from STATE --to STATE [FILE]",
     "What is stored; rm forgets KEY without deleting it; mv renames an identifier without\n"
     "re-creating it; migrate copies a whole state into an empty one and checks the copy."},
    {"import", "import FILE KEY [OPTIONS]",
     "Adopt something that exists as KEY of FILE: its read hook runs and it is stored as\n"
     "applied with its fields as read and what read returns as its outputs, without a\n"
     "create. The pipeline's ochre.moved and ochre.removed are left to the next run."},
    {"log", "log [OPTIONS]", "The runs, newest first, with their jobs."},
    {"repl", "repl [FILE] [OPTIONS]", "Explore a pipeline: Lua, :plan, :explain, :step through the jobs."},
    {"watch", "watch FILE [OPTIONS]",
     "Apply, then again whenever a watched file changes (or on a schedule), until Ctrl-C."},
    {"test", "test FILE [OPTIONS]", "Apply into a throw-away state, run the file's tests, destroy."},
    {"enter", "enter FILE KEY [METHOD] [OPTIONS]", "Call METHOD (default: enter) of the applied instance KEY."},
    {"history", "history KEY [OPTIONS]", "Every stored version of KEY."},
    {"serve", "serve [FILE] [OPTIONS]",
     "A web page on the pipeline's graph, plan, runs and each component's history; read-only\n"
     "unless --allow-apply; without FILE, the state alone; Ctrl-C stops."},
};

const char* const all = "run apply plan destroy explain graph state import log repl watch test enter history serve";
const char* const applying = "run apply destroy watch test repl serve import";
const char* const planning = "run apply plan explain graph watch repl serve";

struct Spec {
  const char* names;     // as CLI11 takes them: "-j,--jobs"
  const char* value;     // its placeholder, or nullptr for a flag
  const char* commands;  // which take it
  const char* help;
  bool Args::*flag = nullptr;
  std::string Args::*text = nullptr;
  std::vector<std::string> Args::*list = nullptr;
  std::string Raw::*raw = nullptr;
};

const Spec specs[] = {
    {"--state", "STATE", all, "a SQLite file or postgres://user@host:port/db (default: $OCHRE_STATE, else the pipeline's setting, else .ochre/state.db beside FILE)", nullptr, &Args::state},
    {"--workspace", "NAME", all, "an independent state within STATE (default: $OCHRE_WORKSPACE, else the pipeline's setting, else 'default')", nullptr, &Args::workspace},
    {"--color", "WHEN", all, "auto (default), always or never; NO_COLOR turns it off", nullptr, &Args::color},
    {"--from", "STATE", "state", "migrate: the state to copy", nullptr, &Args::from},
    {"--to", "STATE", "state", "migrate: the empty state to copy into", nullptr, &Args::to},
    {"-j,--jobs", "N", applying, "jobs at once (default: twice the cores, at least 4)", nullptr, nullptr, nullptr, &Raw::jobs},
    {"--fail-fast", nullptr, applying, "after a failure, start no new jobs", &Args::fail_fast},
    {"--lock-timeout", "SECONDS", all, "wait this long for another ochre on the same state (default 0)", nullptr, nullptr, nullptr, &Raw::lock_timeout},
    {"--target", "KEY", planning, "plan only KEY and what it depends on (repeatable)", nullptr, nullptr, &Args::targets},
    {"--exclude", "KEY", "run apply plan destroy", "leave KEY and what depends on it out of this run (repeatable)", nullptr, nullptr, &Args::excludes},
    {"--replace", "KEY", planning, "replace KEY even if unchanged (repeatable)", nullptr, nullptr, &Args::replace},
    {"--dry-run", nullptr, "run apply destroy", "plan only", &Args::dry_run},
    {"-y,--yes", nullptr, "run apply destroy", "delete or replace without asking", &Args::yes},
    {"--exit-code", nullptr, "plan", "exit 0 when there is nothing to do, 1 when there are changes", &Args::exit_code},
    {"--timeout", "SECONDS", "run apply destroy watch test repl serve", "stop a job that runs longer than this (default: none)", nullptr, nullptr, nullptr, &Raw::timeout},
    {"--executor", "local|slurm", "run apply destroy watch test repl", "where commands run (ochre.sh): here, or as Slurm batch jobs (default: the pipeline's setting, else local)", nullptr, &Args::executor},
    {"--notify", "URL", applying, "post every event of the applies to this webhook, signed with $OCHRE_NOTIFY_SECRET (repeatable)", nullptr, nullptr, &Args::notify},
    {"--notify-timeout", "SECONDS", applying, "wait this long for notifications not delivered yet (default 5)", nullptr, nullptr, nullptr, &Raw::notify_timeout},
    {"--format", "dot|mermaid", "graph", "the graph's language (default dot)", nullptr, &Args::format},
    {"--every", "DURATION", "watch", "also apply on a schedule: 30s, 5m, 1h, 500ms", nullptr, &Args::every},
    {"--cron", "EXPR", "watch", "also apply on a cron schedule: \"0 3 * * *\" (local time)", nullptr, &Args::cron},
    {"--limit", "N", "log", "show at most N runs (default 20)", nullptr, nullptr, nullptr, &Raw::limit},
    {"--port", "N", "serve", "the port (default 8080; 0: any free one)", nullptr, nullptr, nullptr, &Raw::port},
    {"--host", "ADDR", "serve", "the address (default 127.0.0.1, this machine only)", nullptr, &Args::host},
    {"--allow-apply", nullptr, "serve", "an Apply button that applies the pipeline in the server", &Args::allow_apply},
    {"--json", nullptr, "run apply plan destroy graph state log history", "JSON for machines (run, destroy: one object a line as they apply)", &Args::json},
};

bool takes(const char* list, const std::string& command) {
  std::istringstream in(list);
  for (std::string word; in >> word;)
    if (word == command) return true;
  return false;
}

// The option's names: "-j,--jobs" -> {"-j", "--jobs"}.
std::vector<std::string> names_of(const Spec& s) {
  std::vector<std::string> out;
  std::istringstream in(s.names);
  for (std::string name; std::getline(in, name, ',');) out.push_back(name);
  return out;
}

const Spec* spec_named(const std::string& name) {
  for (const Spec& s : specs)
    for (const auto& n : names_of(s))
      if (n == name) return &s;
  return nullptr;
}

bool is_command(const std::string& word) {
  for (const Command& c : commands)
    if (word == c.name) return true;
  return false;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// An option CLI11 left over: one of another command, a misspelt one, or unknown.
[[noreturn]] void unknown_option(const std::string& arg, const std::string& command) {
  std::string name = arg.substr(0, arg.find('='));
  if (const Spec* s = spec_named(name)) {
    std::string owners;
    std::istringstream in(s->commands);
    std::vector<std::string> words;
    for (std::string w; in >> w;)
      if (w != "apply") words.push_back(w);
    for (size_t i = 0; i < words.size(); ++i)
      owners += (i == 0 ? "" : i + 1 == words.size() ? " and " : ", ") + ("'" + words[i] + "'");
    fail(Msg::OptionOfOtherCommand, {name, command, owners, command});
  }
  std::string best;
  size_t best_distance = 0;
  for (const Spec& s : specs) {
    if (!takes(s.commands, command)) continue;
    for (const auto& n : names_of(s)) {
      size_t d = edit_distance(name, n);
      if (best.empty() || d < best_distance) best = n, best_distance = d;
    }
  }
  if (name.size() > 3 && best_distance <= std::max<size_t>(2, name.size() / 4))
    fail(Msg::OptionMisspelt, {name, best, command});
  fail(Msg::OptionUnknown, {arg});
}

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
  if (text.empty() || *end || v < 0 || v > 65535) fail(Msg::OptionPort, {text});
  return static_cast<int>(v);
}

// The name of `s` as typed last in `args` ("-j" or "--jobs"), for messages.
std::string typed_name(const Spec& s, const std::vector<std::string>& args) {
  std::string found = names_of(s).back();
  for (const auto& arg : args)
    for (const auto& n : names_of(s)) {
      bool is_short = n.size() == 2;
      if (arg == n || arg.rfind(n + "=", 0) == 0 || (is_short && arg.size() > 2 && arg.rfind(n, 0) == 0))
        found = n;
    }
  return found;
}

}  // namespace

std::string command_help(const std::string& command) {
  const Command* c = nullptr;
  for (const Command& each : commands)
    if (command == each.name) c = &each;
  if (!c) fail(Msg::UnknownCommand, {command});
  std::string out = std::string("usage: ochre ") + c->usage + "\n\n" + c->about + "\n\nOptions:\n";
  auto line = [&](const std::string& left, const std::string& help) {
    out += "  " + left;
    if (left.size() < 24) out += std::string(24 - left.size(), ' ');
    else out += "\n" + std::string(26, ' ');
    // The help, wrapped at 80 columns under its column.
    std::istringstream words(help);
    size_t column = 26;
    bool first = true;
    for (std::string word; words >> word; first = false) {
      if (!first && column + 1 + word.size() > 80) {
        out += "\n" + std::string(26, ' ');
        column = 26;
      } else if (!first) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
    }
    out += "\n";
  };
  for (const Spec& s : specs) {
    if (!takes(s.commands, command)) continue;
    std::string left;
    for (const auto& n : names_of(s)) left += (left.empty() ? "" : ", ") + n;
    if (s.value) left += std::string(" ") + s.value;
    line(left, s.help);
  }
  line("-h, --help", "this help");
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  std::vector<std::string> args(argv + 1, argv + argc);
  // The command is the first word that is not an option or an option's value; options
  // before it go after it (`ochre --state s.db log` is `ochre log --state s.db`).
  size_t at = 0;
  for (; at < args.size(); ++at) {
    const std::string& arg = args[at];
    if (arg == "--") {
      ++at;
      break;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg == "-h" || arg == "--help") {
        a.command = "help";
        return a;
      }
      if (arg == "--version") {
        a.command = "version";
        return a;
      }
      const Spec* s = spec_named(arg);
      if (s && s->value) ++at;  // its value
      continue;
    }
    break;
  }
  if (at >= args.size()) {
    for (const auto& arg : args)
      if (arg.size() > 1 && arg[0] == '-' && !spec_named(arg.substr(0, arg.find('=')))) fail(Msg::OptionUnknown, {arg});
    fail(Msg::NoCommand);
  }
  a.command = args[at];
  if (!is_command(a.command)) fail(Msg::UnknownCommand, {a.command});
  std::vector<std::string> rest(args.begin(), args.begin() + at);
  rest.insert(rest.end(), args.begin() + at + 1, args.end());

  CLI::App app("ochre " + a.command);
  app.set_help_flag();
  app.allow_extras();
  app.positionals_at_end(false);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  Raw raw;
  bool help = false, verbose = false;
  app.add_flag("-h,--help", help);
  app.add_flag("-v,--verbose", verbose);  // accepted, as it always was
  for (const Spec& s : specs) {
    if (!takes(s.commands, a.command)) continue;
    if (s.flag) app.add_flag(s.names, a.*s.flag);
    else if (s.text) app.add_option(s.names, a.*s.text);
    else if (s.raw) app.add_option(s.names, raw.*s.raw);
    else app.add_option(s.names, a.*s.list)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->expected(1)->allow_extra_args(false);
  }
  app.add_option("args", a.positional);
  std::vector<std::string> reversed(rest.rbegin(), rest.rend());  // CLI11 takes them back to front
  try {
    app.parse(reversed);
  } catch (const CLI::ArgumentMismatch&) {
    // An option without its value: the last such one typed.
    std::string missing;
    for (size_t i = 0; i < rest.size(); ++i) {
      const Spec* s = spec_named(rest[i]);
      if (s && s->value && (i + 1 == rest.size() || (rest[i + 1].size() > 1 && rest[i + 1][0] == '-')))
        missing = rest[i];
    }
    fail(Msg::OptionNeedsValue, {missing.empty() ? rest.back() : missing});
  } catch (const CLI::ParseError& e) {
    fail(Msg::OptionUnknown, {e.what()});
  }
  if (help) {
    a.help_for = a.command;
    a.command = "help";
    return a;
  }
  for (const auto& extra : app.remaining()) {
    if (extra.size() > 1 && extra[0] == '-') unknown_option(extra, a.command);
    a.positional.push_back(extra);
  }
  auto check = [&](std::string Raw::*field, const char* name) -> const std::string* {
    const std::string& text = raw.*field;
    const CLI::Option* option = app.get_option_no_throw(name);
    if (!option || !option->count()) return nullptr;
    return &text;
  };
  const Spec* jobs = spec_named("--jobs");
  if (auto t = check(&Raw::jobs, "--jobs")) a.jobs = int_arg(typed_name(*jobs, rest), *t, 1);
  if (auto t = check(&Raw::lock_timeout, "--lock-timeout")) a.lock_timeout = number_arg("--lock-timeout", *t, 0);
  if (auto t = check(&Raw::limit, "--limit")) a.limit = int_arg("--limit", *t, 0);
  if (app.get_option("--state")->count() && a.state.empty()) fail(Msg::OptionStateEmpty);
  if (auto t = check(&Raw::notify_timeout, "--notify-timeout")) a.notify_timeout = number_arg("--notify-timeout", *t, 0);
  if (auto t = check(&Raw::timeout, "--timeout")) a.timeout = number_arg("--timeout", *t, 0);
  if (auto t = check(&Raw::port, "--port")) a.port = port_arg(*t);
  if (a.command == "serve" && app.get_option("--host")->count() && a.host.empty()) fail(Msg::OptionHost);
  if (a.color != "auto" && a.color != "always" && a.color != "never") fail(Msg::OptionColor);
  if (!a.executor.empty() && a.executor != "local" && a.executor != "slurm") fail(Msg::OptionExecutor, {a.executor});
  return a;
}

}  // namespace ochre::cli
