// The HTTP side of `ochre serve`: the embedded page, the JSON API over the Dashboard, the
// live updates as server-sent events, and a clean stop on SIGINT/SIGTERM. The only
// translation unit that includes httplib.h.
#include "repl/serve.hpp"

#include <httplib.h>
#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string_view>
#include <thread>

#include "repl/dashboard.hpp"
#include "repl/web_assets.hpp"

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

void send_json(httplib::Response& res, const std::string& body, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "application/json");
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

void add_routes(httplib::Server& svr, Dashboard& board) {
  // Brotli at httplib's quality takes most of a second for the plan of 1,000 components;
  // gzip takes milliseconds. The request is httplib's own (non-const) object.
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    auto it = req.headers.find("Accept-Encoding");
    if (it != req.headers.end() && it->second.find("br") != std::string::npos) {
      std::string accepted = it->second.find("gzip") != std::string::npos ? "gzip" : "identity";
      auto& headers = const_cast<httplib::Request&>(req).headers;
      headers.erase("Accept-Encoding");
      headers.emplace("Accept-Encoding", accepted);
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  for (const WebAsset* a = web_assets; a->name; ++a) {
    std::string path = std::string_view(a->name) == "index.html" ? "/" : "/" + std::string(a->name);
    svr.Get(path, [a](const httplib::Request&, httplib::Response& res) {
      res.set_content(a->data, a->size, content_type(a->name));
    });
  }
  svr.Get("/api/info", [&](const httplib::Request&, httplib::Response& res) { send_json(res, board.info_json()); });
  svr.Get("/api/graph", [&](const httplib::Request&, httplib::Response& res) { send_json(res, board.graph_json()); });
  svr.Get("/api/status", [&](const httplib::Request&, httplib::Response& res) { send_json(res, board.status_json()); });
  svr.Get("/api/plan", [&](const httplib::Request&, httplib::Response& res) { send_json(res, board.plan_json()); });
  svr.Get("/api/runs", [&](const httplib::Request& req, httplib::Response& res) {
    int limit = 50;
    if (req.has_param("limit")) limit = std::atoi(req.get_param_value("limit").c_str());
    send_json(res, board.runs_json(limit < 0 ? 0 : limit));
  });
  svr.Get("/api/component", [&](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("key")) return send_json(res, error_json("missing ?key=Type/identifier"), 400);
    try {
      send_json(res, board.component_json(req.get_param_value("key")));
    } catch (const Error& e) {
      send_json(res, error_json(e.display()), e.code() == Code::UnknownKey ? 404 : 500);
    }
  });
  svr.Post("/api/apply", [&](const httplib::Request&, httplib::Response& res) {
    auto [status, message] = board.start_apply();
    send_json(res, status == 202 ? "{\"started\":true}" : error_json(message), status);
  });
  // Live updates: an event whenever the statuses (or the graph) change; the page then
  // fetches what changed. A comment every second keeps the stream (and its check of a
  // gone client) going.
  svr.Get("/api/events", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    auto seen = std::make_shared<Dashboard::Versions>(Dashboard::Versions{-1, -1});
    res.set_chunked_content_provider("text/event-stream", [&board, seen](size_t, httplib::DataSink& sink) {
      Dashboard::Versions now = board.wait_change(*seen, 1000ms);
      if (board.stopped()) {
        sink.done();
        return true;
      }
      std::string message = ": keep-alive\n\n";
      if (!(now == *seen)) {
        message = "event: status\ndata: {\"status\":" + std::to_string(now.status) +
                  ",\"graph\":" + std::to_string(now.graph) + "}\n\n";
        *seen = now;
      }
      return sink.write(message.data(), message.size());
    });
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const Error& e) {
      what = e.display();
    } catch (const std::exception& e) {
      what = e.what();
    }
    send_json(res, error_json(what), 500);
  });
}

// Why the address could not be listened on, from the errno bind() left.
std::string bind_failure(int err) {
  switch (err) {
    case EADDRINUSE: return "the port is in use (another server runs there); choose another with --port";
    case EACCES: return "permission denied (ports below 1024 need privileges); choose another with --port";
    case EADDRNOTAVAIL: return "no such address on this machine; pass one of its addresses with --host";
    default:
      return "cannot listen there" + (err ? " (" + std::string(std::strerror(err)) + ")" : std::string()) +
             "; check --host and --port";
  }
}

std::string url_of(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/";
}

// Waits for SIGINT or SIGTERM through libuv, so that an apply running meanwhile (whose
// own libuv handlers see the same signals: stop starting jobs, then kill them) keeps
// working, and the signals are never left at their default after it.
void wait_for_signal() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_signal_t sigint, sigterm;
  for (uv_signal_t* h : {&sigint, &sigterm}) {
    uv_signal_init(&loop, h);
    h->data = &loop;
  }
  auto stop = [](uv_signal_t* h, int) { uv_stop(static_cast<uv_loop_t*>(h->data)); };
  uv_signal_start(&sigint, stop, SIGINT);
  uv_signal_start(&sigterm, stop, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
}

}  // namespace

int run_serve(const ServeOptions& serve, const Options& options) {
  Dashboard board(serve.file, options, serve.allow_apply);

  httplib::Server svr;
  // SO_REUSEADDR only: with httplib's default SO_REUSEPORT a second server would share a
  // busy port instead of failing.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.new_task_queue = [] { return new httplib::ThreadPool(server_threads); };
  svr.set_keep_alive_timeout(1);  // an idle connection does not hold up a stop
  add_routes(svr, board);

  errno = 0;
  int port = serve.port;
  bool bound = port == 0 ? (port = svr.bind_to_any_port(serve.host)) > 0 : svr.bind_to_port(serve.host, port);
  if (!bound)
    fail(Code::Listen, {serve.host + ":" + std::to_string(serve.port), bind_failure(errno)});

  std::atomic<bool> listening_ended{false};
  std::thread listener([&] {
    svr.listen_after_bind();
    listening_ended = true;
  });
  // The URL is printed once connections are answered (and a stop reaches the server).
  while (!svr.is_running() && !listening_ended) std::this_thread::sleep_for(1ms);

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
        error = std::string("internal error (a bug in ochre): ") + e.what();
      }
      // A damaged or vanished state: said once, and tried again.
      if (!error.empty() && error != last_error) std::cerr << "error: " << error << "\n" << std::flush;
      last_error = error;
      lock.lock();
      cv.wait_for(lock, poll_interval, [&] { return stopping; });
    }
  });

  std::cout << (serve.allow_apply ? "The page can apply the pipeline (--allow-apply).\n"
                                  : "Read-only (--allow-apply adds an Apply button).\n")
            << "Serving " << url_of(serve.host, port) << "\n" << std::flush;
  wait_for_signal();

  board.stop();  // an apply under way finishes its running jobs first
  svr.stop();
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
