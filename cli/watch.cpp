// `ochre watch FILE [--every DURATION]`: plan and apply, then wait for a change to a
// file the pipeline watches (the pipeline itself and every instance's `path`), or for
// the schedule, and do it again; one line per cycle, until Ctrl-C.
#include "cli/watch.hpp"

#include <sys/stat.h>
#include <uv.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <set>

namespace ochre::cli {
namespace {

namespace fs = std::filesystem;

std::string clock_text() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// One cycle: a fresh engine (the file may have changed), plan, watch what the plan
// watches (before applying, so no change is missed), apply. Errors are shown and the
// watch goes on.
void cycle(const std::string& file, const Options& options, int n,
           const std::function<void(const std::vector<std::string>&)>& watch) {
  try {
    Engine engine(options);
    try {
      engine.load_file(file);
    } catch (...) {
      watch({fs::absolute(file).string()});  // a broken file: wait for it to be fixed
      throw;
    }
    engine.lock();
    engine.plan();
    watch(engine.watch_paths());
    if (!engine.jobs().empty()) std::cout << engine.plan_table() << std::flush;
    Callbacks cb;
    cb.finished = [](const JobInfo& job, const JobEnd& end) {
      if (end.outcome == "failed") std::cerr << "error: " << end.error << "\n";
      else if (end.outcome == "skipped") std::cerr << "skipped: " << job.details << " (" << end.error << ")\n";
    };
    // With nothing to do, this only sends the notifications earlier cycles left.
    RunResult r = engine.apply(cb);
    std::cout << "[" << clock_text() << "] cycle " << n << ": "
              << (r.nothing_to_do ? "nothing to do" : r.summary);
    if (r.undelivered)
      std::cout << " (" << (r.undelivered < 0 ? std::string("some") : std::to_string(r.undelivered))
                << " notifications not delivered yet: " << r.notify_error << ")";
    std::cout << "\n" << std::flush;
  } catch (const Error& e) {
    std::cerr << "error: " << e.display() << "\n";
    std::cout << "[" << clock_text() << "] cycle " << n << ": error\n" << std::flush;
  }
}

struct Watcher {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  uv_timer_t every, cron, debounce;
  std::vector<std::unique_ptr<uv_fs_event_t>> events;
  bool changed = false, stop = false, due = false;

  static void closed(uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); }

  void watch(const std::vector<std::string>& paths) {
    for (auto& e : events) {
      uv_fs_event_stop(e.get());
      uv_close(reinterpret_cast<uv_handle_t*>(e.release()), closed);
    }
    events.clear();
    std::set<std::string> dirs;
    for (const auto& p : paths) {
      // A path that does not exist yet is watched through its directory.
      fs::path target = fs::absolute(p);
      std::error_code ec;
      while (!fs::exists(target, ec) && target.has_parent_path() && target != target.parent_path())
        target = target.parent_path();
      if (!dirs.insert(target.string()).second) continue;
      auto ev = std::make_unique<uv_fs_event_t>();
      uv_fs_event_init(&loop, ev.get());
      ev->data = this;
      if (uv_fs_event_start(ev.get(), on_event, target.c_str(), 0) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(ev.release()), closed);
        continue;
      }
      events.push_back(std::move(ev));
    }
  }

  static void on_event(uv_fs_event_t* h, const char*, int, int) {
    auto* self = static_cast<Watcher*>(h->data);
    // Debounced: a burst of writes is one change.
    uv_timer_start(&self->debounce, [](uv_timer_t* t) {
      auto* w = static_cast<Watcher*>(t->data);
      w->changed = true;
      uv_stop(&w->loop);
    }, 200, 0);
  }
};

}  // namespace

double parse_duration(const std::string& text) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(text, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  std::string unit = text.substr(pos);
  double scale = unit.empty() || unit == "s" ? 1 : unit == "ms" ? 0.001 : unit == "m" ? 60
               : unit == "h" ? 3600 : -1;
  if (pos == 0 || scale < 0 || v <= 0)
    fail(Msg::OptionEvery, {text});
  return v * scale;
}

void refuse_fifo(const std::string& file, const char* verb, const char* command) {
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) fail(Msg::WatchFifo, {verb, file, command});
}

int run_watch(const std::string& file, const Options& options, double every_seconds, const Cron* cron) {
  // Only a file can change and be read again: a FIFO gives its text once, a directory or
  // a device none. (A file that does not exist yet is waited for.)
  refuse_fifo(file, "watch", "watch");
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail(Msg::LoadDirectory, {file});
    if (!S_ISREG(st.st_mode)) fail(Msg::LoadNotFile, {file});
  }
  Watcher w;
  uv_loop_init(&w.loop);
  uv_timer_init(&w.loop, &w.debounce);
  w.debounce.data = &w;
  uv_timer_init(&w.loop, &w.every);
  w.every.data = &w;
  uv_timer_init(&w.loop, &w.cron);
  w.cron.data = &w;
  for (auto [h, sig] : {std::pair{&w.sigint, SIGINT}, std::pair{&w.sigterm, SIGTERM}}) {
    uv_signal_init(&w.loop, h);
    h->data = &w;
    uv_signal_start(h, [](uv_signal_t* s, int) {
      auto* self = static_cast<Watcher*>(s->data);
      self->stop = true;
      uv_stop(&self->loop);
    }, sig);
  }
  std::cout << "watching " << file << (every_seconds > 0 ? " (and every " + std::to_string(every_seconds) + " s)" : "")
            << "; Ctrl-C stops\n" << std::flush;
  for (int n = 1; !w.stop; ++n) {
    w.changed = w.due = false;
    cycle(file, options, n, [&w](const std::vector<std::string>& paths) { w.watch(paths); });
    if (every_seconds > 0) {
      uv_timer_start(&w.every, [](uv_timer_t* t) {
        auto* self = static_cast<Watcher*>(t->data);
        self->due = true;
        uv_stop(&self->loop);
      }, static_cast<uint64_t>(every_seconds * 1000), 0);
    }
    if (cron) {
      std::time_t now = std::time(nullptr), next = next_cron(*cron, now);
      if (next > 0) {
        uv_timer_start(&w.cron, [](uv_timer_t* t) {
          auto* self = static_cast<Watcher*>(t->data);
          self->due = true;
          uv_stop(&self->loop);
        }, static_cast<uint64_t>(next - now) * 1000, 0);
      }
    }
    while (!w.stop && !w.changed && !w.due) uv_run(&w.loop, UV_RUN_ONCE);
    uv_timer_stop(&w.every);
    uv_timer_stop(&w.cron);
  }
  w.watch({});
  uv_walk(&w.loop, [](uv_handle_t* h, void*) {
    if (!uv_is_closing(h) && h->type != UV_FS_EVENT) uv_close(h, nullptr);
  }, nullptr);
  uv_run(&w.loop, UV_RUN_DEFAULT);
  uv_loop_close(&w.loop);
  std::cout << "stopped watching\n";
  return 0;
}

}  // namespace ochre::cli
