// ochre-http.so (serve/http_module.h): cpp-httplib behind a C table. The webhook client
// is the engine's own (webhook/webhook_http.cpp, compiled in here); the server answers
// every request through the program's handler. Everything here is hidden but the one
// entry point, so the module's C++ never mixes with the program's.
#include "serve/http_module.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "webhook/webhook_http.hpp"

struct ochre_http_request {
  const httplib::Request* req;
};
struct ochre_http_response {
  httplib::Response* res;
};
struct ochre_http_sink {
  httplib::DataSink* sink;
};

namespace {

void* poster_new() {
  try {
    return new ochre::HttpPoster();
  } catch (...) {
    return nullptr;
  }
}

void poster_free(void* p) { delete static_cast<ochre::HttpPoster*>(p); }

int poster_post(void* p, const char* url, const char* const* headers, size_t n_headers, const char* body,
                size_t body_size, double connect_timeout, double timeout, char* error, size_t error_size) {
  ochre::HttpAnswer answer;
  try {
    std::vector<std::pair<std::string, std::string>> h;
    for (size_t i = 0; i < n_headers; ++i) h.emplace_back(headers[2 * i], headers[2 * i + 1]);
    answer = static_cast<ochre::HttpPoster*>(p)->post(url, h, std::string(body, body_size), connect_timeout, timeout);
  } catch (const std::exception& e) {
    answer = {0, e.what()};
  } catch (...) {
    answer = {0, "unknown error"};
  }
  if (error && error_size) {
    size_t n = std::min(answer.error.size(), error_size - 1);
    std::memcpy(error, answer.error.data(), n);
    error[n] = '\0';
  }
  return answer.status;
}

void poster_cancel(void* p) { static_cast<ochre::HttpPoster*>(p)->cancel(); }

struct Server {
  httplib::Server svr;
  ochre_http_handler handler;
  void* user;
};

void handle(Server* s, const httplib::Request& req, httplib::Response& res) {
  ochre_http_request rq{&req};
  ochre_http_response rs{&res};
  res.status = 404;
  s->handler(s->user, &rq, &rs);
}

void* server_new(ochre_http_handler handler, void* user, size_t threads) {
  try {
    auto s = std::make_unique<Server>();
    s->handler = handler;
    s->user = user;
    // SO_REUSEADDR only: with httplib's default SO_REUSEPORT a second server would share
    // a busy port instead of failing.
    s->svr.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    s->svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    s->svr.set_keep_alive_timeout(1);  // an idle connection does not hold up a stop
    // Brotli at httplib's quality takes most of a second for the plan of 1,000
    // components; gzip takes milliseconds. The request is httplib's own (non-const) object.
    s->svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
      auto it = req.headers.find("Accept-Encoding");
      if (it != req.headers.end() && it->second.find("br") != std::string::npos) {
        std::string accepted = it->second.find("gzip") != std::string::npos ? "gzip" : "identity";
        auto& headers = const_cast<httplib::Request&>(req).headers;
        headers.erase("Accept-Encoding");
        headers.emplace("Accept-Encoding", accepted);
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    Server* raw = s.get();
    s->svr.Get(".*", [raw](const httplib::Request& req, httplib::Response& res) { handle(raw, req, res); });
    s->svr.Post(".*", [raw](const httplib::Request& req, httplib::Response& res) { handle(raw, req, res); });
    s->svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      res.status = 500;
      res.set_content("{\"error\":\"internal error\"}", "application/json");
    });
    return s.release();
  } catch (...) {
    return nullptr;
  }
}

void server_free(void* s) { delete static_cast<Server*>(s); }

int server_bind(void* sv, const char* host, int port) {
  auto* s = static_cast<Server*>(sv);
  try {
    if (port == 0) {
      int p = s->svr.bind_to_any_port(host);
      return p > 0 ? p : -1;
    }
    return s->svr.bind_to_port(host, port) ? port : -1;
  } catch (...) {
    return -1;
  }
}

void server_listen(void* s) {
  try {
    static_cast<Server*>(s)->svr.listen_after_bind();
  } catch (...) {
  }
}

int server_running(void* s) { return static_cast<Server*>(s)->svr.is_running() ? 1 : 0; }
void server_stop(void* s) { static_cast<Server*>(s)->svr.stop(); }

const char* request_method(const ochre_http_request* r) { return r->req->method.c_str(); }
const char* request_path(const ochre_http_request* r) { return r->req->path.c_str(); }
const char* request_param(const ochre_http_request* r, const char* name) {
  auto it = r->req->params.find(name);
  return it == r->req->params.end() ? nullptr : it->second.c_str();
}

void reply(ochre_http_response* r, int status, const char* type, const char* body, size_t size, int no_store) {
  r->res->status = status;
  if (no_store) r->res->set_header("Cache-Control", "no-store");
  r->res->set_content(body, size, type);
}

void stream(ochre_http_response* r, const char* type, int no_store, ochre_http_next next, void* user,
            void (*release)(void*)) {
  r->res->status = 200;
  if (no_store) r->res->set_header("Cache-Control", "no-store");
  r->res->set_chunked_content_provider(
      type,
      [next, user](size_t, httplib::DataSink& sink) {
        ochre_http_sink s{&sink};
        return next(user, &s) != 0;
      },
      [release, user](bool) {
        if (release) release(user);
      });
}

int sink_write(ochre_http_sink* s, const char* data, size_t size) { return s->sink->write(data, size) ? 1 : 0; }
void sink_done(ochre_http_sink* s) { s->sink->done(); }

const ochre_http_api api = {
    OCHRE_HTTP_ABI, poster_new,    poster_free,    poster_post,    poster_cancel, server_new,
    server_free,    server_bind,   server_listen,  server_running, server_stop,   request_method,
    request_path,   request_param, reply,          stream,         sink_write,    sink_done,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ochre_http_api* ochre_http_module(void) { return &api; }
