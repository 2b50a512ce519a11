#include "bindings/watchdog.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "ochre/errors.hpp"

namespace ochre::lua {

namespace {

// How long a hook told to stop may take to reach a Lua instruction that checks it.
constexpr double grace_seconds = 1;

// Raised at every instruction until the resume returns: a pcall in the hook cannot
// swallow it for good.
void interrupt_hook(lua_State* L, lua_Debug*) { luaL_error(L, "interrupted"); }

}  // namespace

double Watchdog::now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

Watchdog::~Watchdog() {
  if (!started_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  uv_async_send(&wake_);
  thread_.join();
  uv_loop_close(&loop_);
}

void Watchdog::start_thread() {
  if (started_) return;
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &wake_, [](uv_async_t* a) { static_cast<Watchdog*>(a->data)->update(); });
  wake_.data = this;
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void Watchdog::wake() {
  start_thread();
  uv_async_send(&wake_);
}

void Watchdog::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Watchdog::enter(const std::string& label, double timeout, double deadline) {
  bool need_wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    busy_.push_back({label, timeout, deadline});
    ++generation_;
    need_wake = deadline > 0;
  }
  if (need_wake) wake();
}

Watchdog::Reason Watchdog::leave() {
  std::lock_guard<std::mutex> lock(mu_);  // held by the thread while it ends a stuck run
  if (!busy_.empty()) busy_.pop_back();
  ++generation_;
  if (hooked_) lua_sethook(L_, nullptr, 0, 0);
  hooked_ = false;
  Reason r = reason_;
  reason_ = None;
  return r;
}

// Signals are counted once the thread listens: a Ctrl-C that comes while the first hook
// is already busy in Lua must not reach only the loop's own handler, which that hook
// keeps from running.
void Watchdog::count_signals(bool on) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    signals_ = on;
    signal_count_ = 0;
  }
  if (!on && !started_) return;
  wake();
  if (!on) return;
  std::unique_lock<std::mutex> lock(mu_);
  listened_.wait(lock, [this] { return signals_listened_ || quit_; });
}

void Watchdog::on_stuck(HookRunner::Stuck stuck) {
  if (started_ && std::this_thread::get_id() == thread_.get_id()) return;  // from stuck() itself
  std::lock_guard<std::mutex> lock(mu_);
  stuck_ = std::move(stuck);
}

// ---- on the thread ----

void Watchdog::update() {
  std::unique_lock<std::mutex> lock(mu_);
  if (quit_) {
    lock.unlock();
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&wake_), reinterpret_cast<uv_handle_t*>(&timer_),
                           reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigterm_)})
      uv_close(h, nullptr);
    return;
  }
  if (signals_ != signals_on_) {
    signals_on_ = signals_;
    if (signals_on_) {
      uv_signal_start(&sigint_, on_signal, SIGINT);
      uv_signal_start(&sigterm_, on_signal, SIGTERM);
    } else {
      uv_signal_stop(&sigint_);
      uv_signal_stop(&sigterm_);
    }
    signals_listened_ = signals_on_;
    listened_.notify_all();
  }
  if (stage_ == 1 && armed_ == generation_) return;  // waiting for the Lua hook to act
  stage_ = 0;
  uv_timer_stop(&timer_);
  if (busy_.empty() || !(busy_.back().deadline > 0)) return;
  armed_ = generation_;
  double left = busy_.back().deadline - now();
  uv_timer_start(&timer_, on_timer, left > 0 ? static_cast<uint64_t>(left * 1000) + 1 : 0, 0);
}

void Watchdog::on_timer(uv_timer_t* t) {
  auto* self = static_cast<Watchdog*>(t->data);
  std::lock_guard<std::mutex> lock(self->mu_);
  if (self->busy_.empty() || self->armed_ != self->generation_) return;  // it ended or waits
  if (self->stage_ == 0) return self->interrupt(TimedOut);
  // Still busy after the grace: compiled code that never checks the hook. The loop's
  // thread never comes back (or blocks in leave() on the lock held here): the run is
  // ended from this thread, and the process with it.
  const Busy& b = self->busy_.back();
  std::string why = self->reason_ == Signalled
                        ? b.label + " was interrupted"
                        : message(Msg::HookTimedOut, {b.label, [&] {
                            char buf[32];
                            std::snprintf(buf, sizeof buf, "%g", b.timeout);
                            return std::string(buf);
                          }()});
  HookRunner::Stuck stuck = self->stuck_;
  if (stuck) stuck(why);
  std::string text = "error: " + message(Msg::HookStuck, {b.label}) + "\n";
  fflush(stdout);
  ssize_t n = ::write(2, text.data(), text.size());
  (void)n;
  _exit(1);
}

void Watchdog::on_signal(uv_signal_t* s, int) {
  auto* self = static_cast<Watchdog*>(s->data);
  std::lock_guard<std::mutex> lock(self->mu_);
  if (++self->signal_count_ < 2 || self->busy_.empty()) return;
  if (self->stage_ == 1 && self->armed_ == self->generation_) return;  // being stopped already
  self->armed_ = self->generation_;
  self->interrupt(Signalled);
}

void Watchdog::interrupt(Reason why) {
  reason_ = why;
  hooked_ = true;
  lua_sethook(L_, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
  stage_ = 1;
  uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(grace_seconds * 1000), 0);
}

}  // namespace ochre::lua
