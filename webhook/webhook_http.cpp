#include "webhook/webhook_http.hpp"

#include <fcntl.h>
#include <httplib.h>

#include <chrono>
#include <mutex>

namespace ochre {

struct HttpPoster::Impl {
  std::mutex mu;
  httplib::Client* current = nullptr;  // the request in flight
  bool cancelled = false;
};

HttpPoster::HttpPoster() : impl_(std::make_unique<Impl>()) {}
HttpPoster::~HttpPoster() = default;

namespace {

// "scheme://host:port" and "/path?query" of a URL that passed check_webhook_url.
std::pair<std::string, std::string> split_url(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = url.find_first_of("/?", scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {url, "/"};
  std::string rest = url.substr(path);
  if (rest[0] == '?') rest = "/" + rest;
  return {url.substr(0, path), rest};
}

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "no answer (the connection closed or timed out)";
    case httplib::Error::Write: return "the request could not be sent";
    case httplib::Error::SSLConnection: return "TLS connection failed";
    case httplib::Error::SSLServerVerification: return "the server's TLS certificate is not trusted";
    default: return httplib::to_string(e);
  }
}

std::chrono::microseconds seconds(double s) {
  return std::chrono::microseconds(static_cast<long long>(std::max(s, 0.001) * 1e6));
}

}  // namespace

HttpAnswer HttpPoster::post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body, double connect_timeout, double timeout) {
  auto [origin, path] = split_url(url);
  httplib::Client client(origin);
  HttpAnswer answer;
  if (!client.is_valid()) {
    answer.error = "cannot post to this URL";
    return answer;
  }
  client.set_connection_timeout(seconds(connect_timeout));
  client.set_read_timeout(seconds(timeout));
  client.set_write_timeout(seconds(timeout));
  client.set_keep_alive(false);
  // Commands the hooks start while a delivery is under way must not inherit its socket.
  client.set_socket_options([](socket_t fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); });
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->cancelled) {
      answer.error = "ochre stopped before it was sent";
      return answer;
    }
    impl_->current = &client;
  }
  httplib::Headers h;
  for (const auto& [name, value] : headers) h.emplace(name, value);
  httplib::Result res = client.Post(path, h, body, "application/json");
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->current = nullptr;
    if (impl_->cancelled && !res) {
      answer.error = "ochre stopped before an answer came";
      return answer;
    }
  }
  if (res) {
    answer.status = res->status;
    if (!answer.ok()) answer.error = "HTTP " + std::to_string(res->status);
  } else {
    answer.error = describe(res.error());
  }
  return answer;
}

void HttpPoster::cancel() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->cancelled = true;
  if (impl_->current) impl_->current->stop();
}

}  // namespace ochre
