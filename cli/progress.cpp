#include "cli/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace ochre::cli {

bool use_color(const std::string& when, int fd) {
  const char* no = std::getenv("NO_COLOR");
  if (no && *no) return false;
  if (when == "always") return true;
  if (when == "never") return false;
  return isatty(fd);
}

std::string fit(const std::string& text, int columns) {
  if (columns <= 0) return text;
  int chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (++chars > columns) return text.substr(0, i);
  }
  return text;
}

namespace {

// The terminal's width on stderr (0: unknown). The live line takes one column less, so
// that the cursor after it never moves to a next line.
int terminal_columns() {
  struct winsize ws {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 0;
}

const char* const not_started = "not started: the run was stopped";

}  // namespace

Progress::Progress(int total, bool live, bool color_out, bool color_err)
    : total_(total), tty_(live), color_out_(color_out), color_err_(color_err) {}

void Progress::finish() {
  clear();
  if (not_started_.empty()) return;
  constexpr size_t named = 5;
  std::string keys;
  for (size_t i = 0; i < not_started_.size() && i < named; ++i) keys += (i ? ", " : "") + not_started_[i];
  if (not_started_.size() > named) keys += " and " + std::to_string(not_started_.size() - named) + " more";
  std::cerr << yellow() << "skipped: " << reset_err() << not_started_.size()
            << (not_started_.size() == 1 ? " job " : " jobs ") << not_started << " (" << keys << ")\n";
  not_started_.clear();
}

void Progress::clear() {
  if (!shown_) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

void Progress::draw() {
  if (!tty_) return;
  auto now = Clock::now();
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  char line[512];
  int n = std::snprintf(line, sizeof line, "[%d/%d] %d done, %zu running, %d queued, %d failed, %.1fs",
                        done_ + failed_ + other_, total_, done_, running_.size(),
                        total_ - done_ - failed_ - other_ - static_cast<int>(running_.size()), failed_,
                        secs(now - start_));
  std::string text(line, n > 0 ? n : 0);
  if (!running_.empty()) {
    auto slowest = running_.begin();
    for (auto it = running_.begin(); it != running_.end(); ++it)
      if (it->second.since < slowest->second.since) slowest = it;
    std::snprintf(line, sizeof line, ", slowest: %s (%.1fs)", slowest->second.name.c_str(),
                  secs(now - slowest->second.since));
    text += line;
  }
  int columns = terminal_columns();
  std::fprintf(stderr, "\r\x1b[K%s", fit(text, columns > 1 ? columns - 1 : 0).c_str());
  std::fflush(stderr);
  shown_ = true;
}

void Progress::job_output(const std::string& key, std::string_view line) {
  clear();
  std::cout << "[" << key << "] " << line << "\n" << std::flush;
}

void Progress::interrupted(int signals) {
  clear();
  stopping_ = true;
  if (signals == 1)
    std::cerr << "Interrupted: no new jobs start; waiting for the running ones to finish "
                 "(Ctrl-C again to kill them)\n";
  else if (signals == 2)
    std::cerr << "Interrupted again: killing the running jobs\n";
}

Callbacks Progress::callbacks() {
  Callbacks cb;
  cb.started = [this](const JobInfo& job) {
    running_[job.index] = {job.key + "." + job.action, Clock::now()};
  };
  cb.finished = [this](const JobInfo& job, const JobEnd& end) {
    running_.erase(job.index);
    clear();
    if (end.outcome == "done") {
      ++done_;
    } else if (end.outcome == "failed" || end.outcome == "interrupted") {
      ++failed_;
      std::cerr << red() << "error: " << reset_err() << end.error << "\n";
    } else if (end.outcome == "skipped" && end.error.rfind("waiting: ", 0) == 0) {
      ++other_;
      std::cout << cyan() << "waiting: " << reset() << job.details << " (" << end.error.substr(9) << ")\n"
                << std::flush;
    } else if (end.outcome == "skipped" && stopping_ && end.error == not_started) {
      ++other_;
      not_started_.push_back(job.key);
    } else if (end.outcome == "skipped") {
      ++other_;
      std::cerr << yellow() << "skipped: " << reset_err() << job.details << " (" << end.error << ")\n";
    } else if (end.outcome == "cutoff") {
      ++other_;
      std::cout << cyan() << "unchanged: " << reset() << job.details << " (" << end.error << ")\n" << std::flush;
    } else if (end.outcome == "pending") {
      ++other_;
      std::cout << cyan() << "pending: " << reset() << job.details << " (" << end.error << ")\n"
                << std::flush;
    }
  };
  cb.interrupted = [this](int signals) { interrupted(signals); };
  cb.tick = [this] { draw(); };
  return cb;
}

}  // namespace ochre::cli
