#include "engine/delivery.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <climits>
#include <unordered_map>
#include <unordered_set>

#include "engine/notify.hpp"
#include "ochre/errors.hpp"

namespace ochre {

namespace {

constexpr int batch = 1000;                            // events read per pass
constexpr auto poll = std::chrono::milliseconds(100);  // how soon new events are seen
constexpr double connect_timeout = 2, io_timeout = 10;  // seconds

}  // namespace

Delivery::Delivery(std::unique_ptr<StateStore> store) : own_(std::move(store)), store_(*own_) {
  thread_ = std::thread([this] { run(); });
}

Delivery::Delivery(StateStore& borrowed) : store_(borrowed) {}

Delivery::~Delivery() { stop(); }

void Delivery::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  poster_.cancel();
  if (thread_.joinable()) thread_.join();
}

Delivery::Left Delivery::finish(double timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<long long>(std::max(timeout, 0.0) * 1000));
  }
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
  wake_.notify_all();
  {
    std::unique_lock<std::mutex> lock(mu_);
    drained_.wait_until(lock, deadline_, [this] { return done_; });
  }
  stop();
  Left left;
  try {
    record_sent();  // what the state was too busy to hear about while the thread ran
    auto pending = store_.outbox_due(LLONG_MAX, INT_MAX);
    left.count = static_cast<int>(pending.size());
    if (!pending.empty()) {
      const std::string& why = pending[0].error;
      left.error = url_origin(pending[0].url) + ": " + (why.empty() ? message(Msg::NotSentYet) : why);
    }
  } catch (const std::exception& e) {
    left.count = -1;  // unknown: the state could not be read
    left.error = e.what();
  }
  return left;
}

HttpAnswer Delivery::send(const OutboxEvent& e, double connect) {
  return poster_.post(e.url,
                      {{"X-Ochre-Event", e.event},
                       {"X-Ochre-Delivery", e.id},
                       {"X-Ochre-Signature", e.signature},
                       {"User-Agent", "ochre/0.1.0"}},
                      e.body, connect, io_timeout);
}

void Delivery::record_sent() {
  for (auto it = sent_.begin(); it != sent_.end();) {
    store_.outbox_delivered(*it);
    it = sent_.erase(it);
  }
}

void Delivery::run() {
  // Signals are for the main thread (Ctrl-C, the scheduler's handlers); a write to a
  // closed connection fails with EPIPE here instead of raising SIGPIPE.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  // What this process tried, and when to try again. It rules over what the state says:
  // events an earlier run left go at once, and a retry the state was too busy to record
  // still waits its turn.
  struct Tried {
    int attempts = 0;
    long long next_at = 0;
  };
  std::unordered_map<std::string, Tried> tried;
  for (;;) {
    bool draining;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      draining = draining_;
    }
    std::vector<OutboxEvent> pending;
    long long next = LLONG_MAX;  // when an undelivered event may be tried again
    size_t delivered = 0;
    bool whole = true;  // the pass went through every pending event
    try {
      record_sent();
      pending = store_.outbox_due(LLONG_MAX, batch);
      // Each webhook's oldest undelivered event goes first; the others wait behind it.
      std::unordered_set<std::string> held;
      for (const OutboxEvent& e : pending) {
        if (held.count(e.url)) continue;
        auto t = tried.find(e.id);
        long long due = t == tried.end() ? 0 : t->second.next_at;
        if (due > now_ms()) {
          held.insert(e.url);
          next = std::min(next, due);
          continue;
        }
        double connect = connect_timeout;
        if (draining) {
          std::lock_guard<std::mutex> lock(mu_);
          auto left = std::chrono::duration<double>(deadline_ - std::chrono::steady_clock::now()).count();
          connect = std::clamp(left, 0.05, connect_timeout);
        }
        HttpAnswer answer = send(e, connect);
        if (answer.ok()) {
          sent_.insert(e.id);  // never sent again, even if the state cannot be told now
          ++delivered;
          record_sent();
        } else {
          Tried& again = tried[e.id];
          again.attempts = std::max(again.attempts, e.attempts) + 1;
          again.next_at = now_ms() + retry_delay_ms(again.attempts);
          held.insert(e.url);
          next = std::min(next, again.next_at);
          store_.outbox_retry(e.id, again.attempts, again.next_at, answer.error);
        }
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
    } catch (const std::exception&) {
      // The state is busy or cannot be written now: try again shortly (what is left when
      // the apply ends waits for a later run).
      whole = false;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (draining && whole) {
      bool all_sent = pending.size() < static_cast<size_t>(batch) && delivered == pending.size();
      auto deadline_ms = now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                        deadline_ - std::chrono::steady_clock::now()).count();
      if (all_sent || next > deadline_ms) {
        done_ = true;
        drained_.notify_all();
        return;
      }
    }
    auto wait = poll;
    if (next != LLONG_MAX) wait = std::min(wait, std::chrono::milliseconds(std::max(0LL, next - now_ms())));
    wake_.wait_for(lock, wait, [&] { return stopping_ || (draining_ && !draining); });
  }
}

}  // namespace ochre
