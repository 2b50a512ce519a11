// OCHRE_TIMING=1 prints where a plan's time goes, phase by phase, on stderr.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace ochre {

// What this process is doing, in words ("planning"), for a message that has no better
// place to point at (running out of memory in C++). Set by the thread driving the run.
inline std::atomic<const char*>& phase_now() {
  static std::atomic<const char*> phase{"starting"};
  return phase;
}
inline void enter_phase(const char* phase) { phase_now().store(phase, std::memory_order_relaxed); }

class PhaseTimer {
 public:
  PhaseTimer() : on_(std::getenv("OCHRE_TIMING") != nullptr), last_(std::chrono::steady_clock::now()) {}
  void mark(const char* phase) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    long pages = 0;  // the resident set so far, from /proc/self/statm
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%*s %ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    std::fprintf(stderr, "timing: %-12s %8.1f ms %7.1f MB\n", phase,
                 std::chrono::duration<double, std::milli>(now - last_).count(),
                 static_cast<double>(pages) * 4096 / (1024 * 1024));
    last_ = now;
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace ochre
