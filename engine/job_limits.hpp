// What the scheduler keeps for lifecycle options (engine/lifecycle.hpp): the waits
// between a failed attempt and the next (libuv timers, so other jobs go on meanwhile)
// and how many jobs of each pool are running.
#pragma once
#include <uv.h>

#include <cmath>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "engine/lifecycle.hpp"

namespace ochre {

// The wait before attempt `next` (2 for the second): delay × backoff^(next - 2).
inline double retry_wait(const Retry& r, int next) {
  return r.delay * std::pow(r.backoff, next - 2);
}

class RetryWaits {
 public:
  explicit RetryWaits(uv_loop_t* loop) : loop_(loop) {}
  RetryWaits(const RetryWaits&) = delete;
  RetryWaits& operator=(const RetryWaits&) = delete;
  ~RetryWaits() { cancel_all(); }

  // Calls `then` from the loop after `seconds`, unless cancelled first.
  void wait(double seconds, std::function<void()> then) {
    auto* w = new Wait{{}, this, std::move(then)};
    uv_timer_init(loop_, &w->timer);
    w->timer.data = w;
    waits_.insert(w);
    uv_timer_start(&w->timer, on_timer, static_cast<uint64_t>(std::max(0.0, seconds) * 1000 + 0.5), 0);
  }
  // Drops every wait left (their `then` is never called).
  void cancel_all() {
    for (Wait* w : waits_) close(w);
    waits_.clear();
    if (loop_) uv_run(loop_, UV_RUN_NOWAIT);  // the close callbacks free them
  }

 private:
  struct Wait {
    uv_timer_t timer;
    RetryWaits* owner;
    std::function<void()> then;
  };
  static void on_timer(uv_timer_t* t) {
    auto* w = static_cast<Wait*>(t->data);
    std::function<void()> then = std::move(w->then);
    w->owner->waits_.erase(w);
    close(w);
    then();
  }
  static void close(Wait* w) {
    uv_timer_stop(&w->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->timer),
             [](uv_handle_t* h) { delete static_cast<Wait*>(h->data); });
  }
  uv_loop_t* loop_;
  std::unordered_set<Wait*> waits_;
};

// Jobs running per pool.
class PoolCounts {
 public:
  // True (and counted) when a job of `pool` (of `size`) may start now.
  bool take(const std::string& pool, int size) {
    if (pool.empty()) return true;
    int& n = running_[pool];
    if (size > 0 && n >= size) return false;
    ++n;
    return true;
  }
  void give_back(const std::string& pool) {
    if (!pool.empty()) --running_[pool];
  }

 private:
  std::unordered_map<std::string, int> running_;
};

}  // namespace ochre
