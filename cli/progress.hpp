// What `ochre run` shows while jobs run: each job's output prefixed with its key, a
// message per failed, skipped or pending job, and on a terminal a live progress line.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "ochre/ochre.hpp"

namespace ochre::cli {

class Progress {
 public:
  Progress(int total, bool tty, bool color);
  Callbacks callbacks();
  void job_output(const std::string& key, std::string_view line);
  void interrupted(int signals);
  // Clears the live line (before the summary).
  void clear();
  const char* red() const { return color_ ? "\x1b[31m" : ""; }
  const char* yellow() const { return color_ ? "\x1b[33m" : ""; }
  const char* cyan() const { return color_ ? "\x1b[36m" : ""; }
  const char* bold() const { return color_ ? "\x1b[1m" : ""; }
  const char* reset() const { return color_ ? "\x1b[0m" : ""; }

 private:
  void draw();
  using Clock = std::chrono::steady_clock;
  int total_, done_ = 0, failed_ = 0, other_ = 0;
  bool tty_, color_, shown_ = false;
  Clock::time_point start_ = Clock::now();
  std::map<std::string, Clock::time_point> running_;
};

// Whether to colour: --color always|never|auto; auto means stderr is a terminal and
// NO_COLOR is unset. NO_COLOR always wins.
bool use_color(const std::string& when);

}  // namespace ochre::cli
