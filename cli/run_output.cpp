#include "cli/run_output.hpp"

#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace ochre::cli {

namespace {

using Json = nlohmann::ordered_json;

void emit(const Json& event) {
  // Invalid UTF-8 becomes U+FFFD; integers stay integers.
  std::cout << event.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace) << "\n" << std::flush;
}

Json job_event(const char* type, const JobInfo& job) {
  return Json{{"type", type}, {"index", job.index}, {"key", job.key}, {"action", job.action}};
}

}  // namespace

void JsonEvents::run_started(const std::string& command, const std::string& file) {
  emit(Json{{"type", "run.started"}, {"command", command}, {"file", file}});
}

void JsonEvents::output(std::string_view text) { emit(Json{{"type", "output"}, {"text", std::string(text)}}); }

void JsonEvents::plan(const std::string& plan_json) {
  std::string_view body = plan_json;
  while (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  std::cout << "{\"type\":\"plan\",\"plan\":" << body << "}\n" << std::flush;
}

void JsonEvents::job_output(const std::string& key, std::string_view line) {
  emit(Json{{"type", "job.output"}, {"key", key}, {"line", std::string(line)}});
}

Callbacks JsonEvents::callbacks() {
  Callbacks cb;
  cb.started = [](const JobInfo& job) {
    Json e = job_event("job.started", job);
    e["details"] = job.details;
    emit(e);
  };
  cb.finished = [](const JobInfo& job, const JobEnd& end) {
    Json e = job_event("job.finished", job);
    e["outcome"] = end.outcome;
    e["error"] = end.error;
    emit(e);
  };
  cb.interrupted = [](int signals) { emit(Json{{"type", "interrupted"}, {"signals", signals}}); };
  return cb;
}

void JsonEvents::run_finished(const RunResult& r) {
  emit(Json{{"type", "run.finished"},
            {"exit_code", r.exit_code()},
            {"nothing_to_do", r.nothing_to_do},
            {"summary", r.summary},
            {"done", r.done},
            {"failed", r.failed},
            {"skipped", r.skipped},
            {"pending", r.pending},
            {"waiting", r.waiting},
            {"interrupted", r.interrupted},
            {"cutoff", r.cutoff},
            {"undelivered", r.undelivered}});
}

bool confirm_deletes(const Engine& engine, bool yes, bool json) {
  if (yes || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return true;
  std::vector<std::string> keys;
  std::set<std::string> replaced, seen;
  for (int i = 0, n = engine.job_count(); i < n; ++i) {
    JobInfo job = engine.job(i);
    if (job.action != "delete") continue;
    if (job.replace) replaced.insert(job.key);
    if (seen.insert(job.key).second) keys.push_back(job.key);
  }
  if (keys.empty()) return true;
  std::ostream& out = json ? std::cerr : std::cout;
  out << "\nThese components will be deleted:\n";
  for (const auto& key : keys) out << "  - " << key << (replaced.count(key) ? " (to be replaced)" : "") << "\n";
  out << "Delete " << keys.size() << (keys.size() == 1 ? " component" : " components") << "? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "Yes";
}

}  // namespace ochre::cli
