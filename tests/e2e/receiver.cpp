#include "e2e/receiver.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "e2e/harness.hpp"

namespace e2e {

Receiver::Receiver(bool up) {
  // A port nobody listens on: the kernel picks one, and it is let go until start().
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("receiver: no free port on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  close(fd);
  if (up) start();
}

Receiver::~Receiver() { stop(); }

std::string Receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void Receiver::start() {
  if (server_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = false;
  }
  server_ = std::make_unique<httplib::Server>();
  server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Request r;
    r.path = req.path;
    r.event = req.get_header_value("X-Ochre-Event");
    r.delivery = req.get_header_value("X-Ochre-Delivery");
    r.signature = req.get_header_value("X-Ochre-Signature");
    r.content_type = req.get_header_value("Content-Type");
    r.body = req.body;
    res.status = handle(std::move(r));
    res.set_content("ok", "text/plain");
  });
  if (!server_->bind_to_port("127.0.0.1", port_)) throw std::runtime_error("receiver: cannot listen again");
  httplib::Server* s = server_.get();
  thread_ = std::thread([s] { s->listen_after_bind(); });
  // Accepting from here on (the socket listens since bind_to_port); stop() needs the
  // loop to be running to end it.
  if (!wait_until([s] { return s->is_running(); }, 10)) throw std::runtime_error("receiver: did not start");
}

void Receiver::stop() {
  if (!server_) return;
  release();
  server_->stop();
  thread_.join();
  server_.reset();
}

void Receiver::fail_next(int n, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_ = n;
  fail_status_ = status;
}

void Receiver::hang_next(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  hang_ = n;
}

void Receiver::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
  }
  released_cv_.notify_all();
}

int Receiver::handle(Request r) {
  std::unique_lock<std::mutex> lock(mu_);
  if (hang_ > 0) {
    --hang_;
    requests_.push_back(std::move(r));  // recorded unanswered
    released_cv_.wait(lock, [this] { return released_; });
    return 503;
  }
  r.status = 200;
  if (fail_ > 0) {
    --fail_;
    r.status = fail_status_;
  }
  int status = r.status;
  requests_.push_back(std::move(r));
  return status;
}

std::vector<Receiver::Request> Receiver::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<Receiver::Request> Receiver::accepted() const {
  std::vector<Request> out;
  for (auto& r : requests())
    if (r.status >= 200 && r.status < 300) out.push_back(r);
  return out;
}

std::string hmac_sha256(const std::string& secret, const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &len);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace e2e
