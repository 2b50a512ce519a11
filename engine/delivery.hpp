// Sends the outbox's notifications while an apply runs: a thread of its own with its
// own connection to the state, so the scheduler never waits on the network. Oldest
// first; a 2xx answer marks an event delivered, anything else is retried with back-off
// (0.5 s doubling, at most 60 s). After a failure, later events to the same webhook wait
// for the failed one, so each webhook gets its events in order. Events an earlier run
// left are tried at once.
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "engine/state.hpp"
#include "webhook/webhook_http.hpp"

namespace ochre {

class Delivery {
 public:
  // Starts the thread on a store of its own (`store`, opened for it). Call only while
  // holding the state's lock: nobody else delivers then.
  explicit Delivery(std::unique_ptr<StateStore> store);
  // Uses `borrowed` (a state no second connection can see, like one in memory): the
  // thread starts in finish(), while the caller waits and leaves the store alone.
  explicit Delivery(StateStore& borrowed);
  // Stops at once: an attempt in flight is abandoned (and retried by a later run).
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  struct Left {
    int count = 0;      // events still undelivered
    std::string error;  // why the oldest of them failed last, with its webhook's origin
  };
  // Waits up to `timeout` seconds for every event to be delivered, or until none can be
  // tried again before then; stops the thread; says what is left for a later run.
  Left finish(double timeout);

 private:
  void run();
  HttpAnswer send(const OutboxEvent& e, double connect_timeout);
  // Tells the state about deliveries it has not recorded yet (it was busy).
  void record_sent();
  void stop();

  std::unique_ptr<StateStore> own_;
  StateStore& store_;
  HttpPoster poster_;
  std::mutex mu_;
  std::condition_variable wake_, drained_;
  bool stopping_ = false;
  bool draining_ = false;
  bool done_ = false;  // draining, and nothing more can go out in time
  std::chrono::steady_clock::time_point deadline_;
  std::unordered_set<std::string> sent_;  // delivered, not yet recorded in the state
  std::thread thread_;
};

}  // namespace ochre
