// The one place that speaks HTTP: a webhook delivery is a POST of a JSON body. Built on
// cpp-httplib's client, kept in this translation unit.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ochre {

struct HttpAnswer {
  int status = 0;     // the HTTP status, 0 when no answer came
  std::string error;  // why no answer came (connection refused, timed out, ...)
  bool ok() const { return status >= 200 && status < 300; }
};

// Posts one request at a time from the thread that calls post(); cancel() may be called
// from any other thread.
class HttpPoster {
 public:
  HttpPoster();
  ~HttpPoster();
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  // POSTs `body` (application/json) to `url` with `headers`; waits at most
  // `connect_timeout` seconds for the connection, then `timeout` for each read or write.
  HttpAnswer post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body, double connect_timeout, double timeout);
  // Aborts the request in flight (its post() returns without an answer) and every later one.
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ochre
