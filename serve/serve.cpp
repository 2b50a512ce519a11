// The HTTP side of `ochre serve`: the embedded page, the JSON API over the Dashboard, the
// live updates as server-sent events, and a clean stop on SIGINT/SIGTERM. The server
// itself is ochre-http.so's (serve/http_module.h).
#include "serve/serve.hpp"

#include <uv.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "serve/dashboard.hpp"
#include "serve/http.hpp"
#include "serve/web_assets.hpp"

namespace ochre::cli {
namespace {

using namespace std::chrono_literals;

// How often the journal is looked at: a change shows on the page well within a second.
constexpr auto poll_interval = 250ms;
// Each open page holds one thread for its event stream.
constexpr size_t server_threads = 32;

const char* content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

std::string error_json(const std::string& message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"}";
}

struct Site {
  Dashboard& board;
  const ochre_http_api& http;
};

// Live updates: an event whenever the statuses (or the graph) change; the page then
// fetches what changed. A comment every second keeps the stream (and its check of a gone
// client) going.
struct EventStream {
  Site* site;
  Dashboard::Versions seen{-1, -1};
};

int next_event(void* user, ochre_http_sink* sink) {
  auto* es = static_cast<EventStream*>(user);
  const ochre_http_api& http = es->site->http;
  try {
    Dashboard::Versions now = es->site->board.wait_change(es->seen, 1000ms);
    if (es->site->board.stopped()) {
      http.sink_done(sink);
      return 1;
    }
    std::string message = ": keep-alive\n\n";
    if (!(now == es->seen)) {
      message = "event: status\ndata: {\"status\":" + std::to_string(now.status) +
                ",\"graph\":" + std::to_string(now.graph) + "}\n\n";
      es->seen = now;
    }
    return http.sink_write(sink, message.data(), message.size());
  } catch (...) {
    return 0;
  }
}

// Answers one request: the page's files, the JSON API, the event stream.
void answer(Site& site, const ochre_http_request* req, ochre_http_response* res) {
  const ochre_http_api& http = site.http;
  Dashboard& board = site.board;
  auto json = [&](const std::string& body, int status = 200) {
    http.reply(res, status, "application/json", body.data(), body.size(), 1);
  };
  auto param = [&](const char* name) { return http.request_param(req, name); };
  std::string_view method = http.request_method(req), path = http.request_path(req);
  if (method == "POST") {
    if (path == "/api/apply") {
      auto [status, message] = board.start_apply();
      json(status == 202 ? "{\"started\":true}" : error_json(message), status);
    }
    return;
  }
  for (const WebAsset* a = web_assets; a->name; ++a) {
    std::string_view name = a->name;
    // Browsers ask for /favicon.ico whatever the page says: the SVG icon answers it.
    if (path == "/favicon.ico" && name == "favicon.svg") return http.reply(res, 200, content_type(name), a->data, a->size, 0);
    if (path == (name == "index.html" ? "/" : "/" + std::string(name)))
      return http.reply(res, 200, content_type(a->name), a->data, a->size, 0);
  }
  if (path == "/api/info") return json(board.info_json());
  if (path == "/api/graph") return json(board.graph_json());
  if (path == "/api/status") return json(board.status_json());
  if (path == "/api/plan") return json(board.plan_json());
  if (path == "/api/runs") {
    int limit = param("limit") ? std::atoi(param("limit")) : 50;
    return json(board.runs_json(limit < 0 ? 0 : limit));
  }
  if (path == "/api/component") {
    if (!param("key")) return json(error_json(message(Msg::MissingKeyParam)), 400);
    try {
      return json(board.component_json(param("key")));
    } catch (const Error& e) {
      return json(error_json(e.display()), e.code() == Code::UnknownKey ? 404 : 500);
    }
  }
  if (path == "/api/events") {
    return http.stream(res, "text/event-stream", 1, next_event, new EventStream{&site},
                       [](void* user) { delete static_cast<EventStream*>(user); });
  }
}

void handle(void* user, const ochre_http_request* req, ochre_http_response* res) {
  Site& site = *static_cast<Site*>(user);
  std::string what;
  try {
    return answer(site, req, res);
  } catch (const Error& e) {
    what = e.display();
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = message(Msg::UnknownError);
  }
  std::string body = error_json(what);
  site.http.reply(res, 500, "application/json", body.data(), body.size(), 1);
}

// Why the address could not be listened on, from the errno bind() left.
std::string bind_failure(int err) {
  switch (err) {
    case EADDRINUSE: return message(Msg::ListenInUse);
    case EACCES: return message(Msg::ListenDenied);
    case EADDRNOTAVAIL: return message(Msg::ListenNoAddress);
    default:
      return message(Msg::ListenFailed, {err ? message(Msg::ListenErrno, {std::strerror(err)}) : std::string()});
  }
}

std::string url_of(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/";
}

// SIGINT or SIGTERM through libuv, so that an apply running meanwhile (whose own libuv
// handlers see the same signals: stop starting jobs, then kill them) keeps working, and
// the signals are never left at their default after it. Caught from construction on: a
// signal that comes before wait() is not lost (nor does it kill the process).
class SignalWait {
 public:
  SignalWait() {
    uv_loop_init(&loop_);
    for (uv_signal_t* h : {&sigint_, &sigterm_}) {
      uv_signal_init(&loop_, h);
      h->data = &loop_;
    }
    auto stop = [](uv_signal_t* h, int) { uv_stop(static_cast<uv_loop_t*>(h->data)); };
    uv_signal_start(&sigint_, stop, SIGINT);
    uv_signal_start(&sigterm_, stop, SIGTERM);
  }
  ~SignalWait() {
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
  }
  SignalWait(const SignalWait&) = delete;
  SignalWait& operator=(const SignalWait&) = delete;
  // Returns once one of the signals came.
  void wait() { uv_run(&loop_, UV_RUN_DEFAULT); }

 private:
  uv_loop_t loop_;
  uv_signal_t sigint_, sigterm_;
};

}  // namespace

int run_serve(const ServeOptions& serve, const Options& options) {
  Dashboard board(serve.file, options, serve.allow_apply);
  std::string why;
  const ochre_http_api* http = http_module(&why);
  // `why` is a text of the catalog (serve/http.cpp).
  if (!http) fail(Code::Listen, {serve.host + ":" + std::to_string(serve.port), why});
  Site site{board, *http};
  std::unique_ptr<void, void (*)(void*)> svr(http->server_new(handle, &site, server_threads), http->server_free);
  if (!svr) fail(Code::Listen, {serve.host + ":" + std::to_string(serve.port), message(Msg::OutOfMemory)});

  errno = 0;
  int port = http->server_bind(svr.get(), serve.host.c_str(), serve.port);
  if (port < 0) fail(Code::Listen, {serve.host + ":" + std::to_string(serve.port), bind_failure(errno)});

  std::atomic<bool> listening_ended{false};
  std::thread listener([&] {
    http->server_listen(svr.get());
    listening_ended = true;
  });
  // The URL is printed once connections are answered (and a stop reaches the server).
  while (!http->server_running(svr.get()) && !listening_ended) std::this_thread::sleep_for(1ms);

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread poller([&] {
    std::string last_error;
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      std::string error;
      try {
        board.poll();
      } catch (const Error& e) {
        error = e.display();
      } catch (const std::exception& e) {
        error = message(Code::Internal, {e.what()});
      }
      // A damaged or vanished state: said once, and tried again.
      if (!error.empty() && error != last_error) std::cerr << "error: " << error << "\n" << std::flush;
      last_error = error;
      lock.lock();
      cv.wait_for(lock, poll_interval, [&] { return stopping; });
    }
  });

  // Whoever reads the URL may stop the server at once: the signals are caught before.
  {
    SignalWait signals;
    std::cout << (serve.allow_apply ? "The page can apply the pipeline (--allow-apply).\n"
                                    : "Read-only (--allow-apply adds an Apply button).\n")
              << "Serving " << url_of(serve.host, port) << "\n" << std::flush;
    signals.wait();
  }

  board.stop();  // an apply under way finishes its running jobs first
  http->server_stop(svr.get());
  listener.join();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  poller.join();
  std::cout << "Stopped\n" << std::flush;
  return 0;
}

}  // namespace ochre::cli
