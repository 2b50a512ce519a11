// Stops hooks busy in Lua, where the event loop (and so the scheduler's timers and
// signal handlers) cannot run: a thread with its own loop watches the hook being resumed
// and, past its deadline or at the run's second Ctrl-C/SIGTERM, sets a Lua hook that
// raises an error in it. Compiled (JIT) code never checks Lua hooks: a hook still busy a
// moment later is stuck for good, and the watchdog ends the run cleanly (the scheduler
// records it, HookRunner::on_stuck) and the process (exit 1).
// Internal to the bindings.
#pragma once
#include <uv.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bindings/lua_state.hpp"
#include "engine/apply.hpp"

namespace ochre::lua {

class Watchdog {
 public:
  enum Reason { None = 0, TimedOut = 1, Signalled = 2 };

  explicit Watchdog(lua_State* L) : L_(L) {}
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Around each lua_resume of a hook: its label ("key: create"), its timeout in seconds
  // and its deadline on the steady clock (0: none). leave() says why it was stopped.
  void enter(const std::string& label, double timeout, double deadline);
  Reason leave();
  void count_signals(bool on);
  void on_stuck(HookRunner::Stuck stuck);

  // Seconds on the steady clock.
  static double now();

 private:
  struct Busy {
    std::string label;
    double timeout = 0, deadline = 0;
  };
  void start_thread();
  void wake();
  void run();
  void update();               // on the thread: arms the timer for the current deadline
  void interrupt(Reason why);  // on the thread, under the lock
  static void on_timer(uv_timer_t* t);
  static void on_signal(uv_signal_t* s, int);

  lua_State* L_;
  std::mutex mu_;
  std::vector<Busy> busy_;  // resumes under way (nested resumes stack)
  unsigned long generation_ = 0;  // changes with every enter and leave
  Reason reason_ = None;          // why the current resume is being stopped
  bool hooked_ = false;           // the Lua hook is set
  bool signals_ = false, quit_ = false;
  bool signals_listened_ = false;  // the thread's signal handles are started
  std::condition_variable listened_;
  int signal_count_ = 0;
  HookRunner::Stuck stuck_;

  // The thread's own (touched on the thread only, after start).
  std::thread thread_;
  bool started_ = false;
  uv_loop_t loop_;
  uv_async_t wake_;
  uv_timer_t timer_;
  uv_signal_t sigint_, sigterm_;
  bool signals_on_ = false;
  unsigned long armed_ = 0;  // the generation the timer is for
  int stage_ = 0;            // 1: the Lua hook is set, the timer waits for it to act
};

}  // namespace ochre::lua
