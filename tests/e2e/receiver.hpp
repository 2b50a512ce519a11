// A webhook receiver for the notification tests: an HTTP server on 127.0.0.1 that
// records every request it gets (headers and body) and answers 200, or what a test asks
// for (500s, or no answer at all). It can be down for a while and come back on the same
// port, as a real endpoint would.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace e2e {

class Receiver {
 public:
  struct Request {
    std::string path, event, delivery, signature, content_type, body;
    int status = 0;  // what it was answered (0: no answer)
  };

  // Takes a free port on 127.0.0.1; listens on it when `up`.
  explicit Receiver(bool up = true);
  ~Receiver();  // stops listening, answers held requests
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  void start();  // listens on port() (again)
  void stop();   // stops listening: connections are refused

  // The next `n` requests are answered `status` (e.g. 500).
  void fail_next(int n, int status = 500);
  // The next `n` requests get no answer until release() or stop().
  void hang_next(int n);
  void release();

  std::vector<Request> requests() const;  // every request, in arrival order
  std::vector<Request> accepted() const;  // those answered 2xx

 private:
  int handle(Request r);  // the status to answer

  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  int fail_ = 0, fail_status_ = 500, hang_ = 0;
  std::vector<Request> requests_;
};

// Lower-case hex HMAC-SHA256 of `body` under `secret`, computed here with libcrypto.
std::string hmac_sha256(const std::string& secret, const std::string& body);

}  // namespace e2e
