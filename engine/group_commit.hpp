// The writes of a run, committed in groups: the outcomes of jobs that end close together
// share one transaction instead of one each. A write is durable at most `window` after
// it was made (plus the commit itself): the loop thread commits at its checkpoints
// between jobs, and while it runs a hook's code, which may take any time, a committer
// thread commits for it. So the only finished jobs a crash can make run again are those
// that ended within the window before it.
#pragma once
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "engine/state.hpp"

namespace ochre {

class GroupCommit {
 public:
  static constexpr std::chrono::milliseconds default_window{10};

  // `committed(hook_running)` is called after each commit between open() and close(),
  // on the thread that made it (the committer's, while a hook runs).
  GroupCommit(StateStore& state, std::function<void(bool)> committed = {},
              std::chrono::milliseconds window = default_window)
      : state_(state), committed_(std::move(committed)), window_(window) {}
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // The loop thread. open() begins a batch; close() commits it (before the loop waits).
  void open();
  void close();
  // The batch holds a write that is not durable yet.
  void wrote();
  // Commits when the oldest write not committed is `window` old.
  void checkpoint();

  // While a hook's code runs (between these two), the committer thread may commit.
  // hook_ended() rethrows a failure of such a commit.
  void hook_begins();
  void hook_ended();

  // Brackets one hook's code: hook_begins() now, hook_ended() on every way out.
  class InHook {
   public:
    explicit InHook(GroupCommit* g) : g_(g) {
      if (g_) g_->hook_begins();
    }
    ~InHook() noexcept(false) {
      if (!g_) return;
      if (std::uncaught_exceptions() == 0) {
        g_->hook_ended();
        return;
      }
      try {
        g_->hook_ended();
      } catch (...) {  // the exception under way says more
      }
    }

   private:
    GroupCommit* g_;
  };

 private:
  void commit_locked();  // with mu_ held: commits and begins again
  void committer();

  StateStore& state_;
  std::function<void(bool)> committed_;
  std::chrono::milliseconds window_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;  // started by the first hook that begins with writes pending
  bool open_ = false, dirty_ = false, in_hook_ = false, stop_ = false;
  std::chrono::steady_clock::time_point since_;  // the oldest write not committed
  std::exception_ptr error_;                     // a commit of the committer's that failed
};

}  // namespace ochre
