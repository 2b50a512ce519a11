// What `ochre run` shows while jobs run: each job's output prefixed with its key, a
// message per failed, skipped or pending job, and on a terminal a live progress line
// (as wide as the terminal at most: it never wraps). After a Ctrl-C, the jobs that were
// never started are one line with their count (finish()).
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ochre/ochre.hpp"

namespace ochre::cli {

class Progress {
 public:
  // `live`: draw the live line (stderr is a terminal). Colours per stream: `color_out`
  // for what goes to stdout, `color_err` for stderr (see use_color).
  Progress(int total, bool live, bool color_out, bool color_err);
  Callbacks callbacks();
  void job_output(const std::string& key, std::string_view line);
  void interrupted(int signals);
  // Clears the live line.
  void clear();
  // Clears the live line and says which jobs an interrupt left unstarted (before the summary).
  void finish();
  // Escapes for stdout (cyan, bold, reset) and for stderr (red, yellow, reset_err).
  const char* cyan() const { return color_out_ ? "\x1b[36m" : ""; }
  const char* bold() const { return color_out_ ? "\x1b[1m" : ""; }
  const char* reset() const { return color_out_ ? "\x1b[0m" : ""; }
  const char* red() const { return color_err_ ? "\x1b[31m" : ""; }
  const char* yellow() const { return color_err_ ? "\x1b[33m" : ""; }
  const char* reset_err() const { return color_err_ ? "\x1b[0m" : ""; }

 private:
  void draw();
  using Clock = std::chrono::steady_clock;
  int total_, done_ = 0, failed_ = 0, other_ = 0;
  bool tty_, color_out_, color_err_, shown_ = false;
  bool stopping_ = false;               // after a Ctrl-C
  std::vector<std::string> not_started_;  // jobs the interrupt left unstarted
  Clock::time_point start_ = Clock::now();
  struct Running {
    std::string name;  // "Type/identifier.action"
    Clock::time_point since;
  };
  std::unordered_map<int, Running> running_;  // by job index
};

// Whether to colour what goes to file descriptor `fd`: --color always|never|auto; auto
// means `fd` is a terminal. NO_COLOR always wins.
bool use_color(const std::string& when, int fd);

// `text` cut to at most `columns` characters (UTF-8), for a line that must not wrap.
std::string fit(const std::string& text, int columns);

}  // namespace ochre::cli
