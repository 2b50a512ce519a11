#include "engine/notify.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "engine/hash.hpp"
#include "ochre/errors.hpp"

namespace ochre {

bool is_notify_event(std::string_view name) {
  return std::find(std::begin(notify_events), std::end(notify_events), name) != std::end(notify_events);
}

namespace {

// The "scheme://" prefix of a URL ochre posts to, or 0 when it has none it knows.
size_t scheme_length(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"})
    if (url.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        }))
      return scheme.size();
  return 0;
}

}  // namespace

std::string check_webhook_url(std::string_view url) {
  size_t scheme = scheme_length(url);
  if (!scheme) return message(Msg::WebhookScheme);
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f) return message(Msg::WebhookSpaces);
  std::string_view authority = url.substr(scheme, url.find_first_of("/?#", scheme) - scheme);
  if (authority.empty()) return message(Msg::WebhookNoHost);
  if (authority.find('@') != std::string_view::npos)
    return message(Msg::WebhookUserinfo);
  if (url.find('#') != std::string_view::npos) return message(Msg::WebhookFragment);
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.back() != ']') {
    std::string_view port = authority.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    long number = digits ? std::stol(std::string(port)) : 0;
    if (number < 1 || number > 65535) return message(Msg::WebhookPort);
  }
  return {};
}

std::string url_origin(std::string_view url) {
  size_t scheme = scheme_length(url);
  return std::string(url.substr(0, url.find_first_of("/?#", scheme)));
}

bool Endpoint::wants(std::string_view event) const {
  return events.empty() || std::find(events.begin(), events.end(), event) != events.end();
}

namespace {

std::string iso_now() {
  using namespace std::chrono;
  auto t = system_clock::now();
  std::time_t secs = system_clock::to_time_t(t);
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

JsonMembers& JsonMembers::add(std::string_view key, std::string_view text) {
  text_ += ',';
  JsonWriter(text_).member(key, text);
  return *this;
}

JsonMembers& JsonMembers::add(std::string_view key, long long number) {
  text_ += ',';
  JsonWriter(text_).member(key, number);
  return *this;
}

Notifier::Notifier(std::vector<Endpoint> endpoints, std::string source, std::string command)
    : endpoints_(std::move(endpoints)), source_(std::move(source)), command_(std::move(command)) {}

std::vector<OutboxEvent> Notifier::make(std::string_view event, long long run, const JsonMembers& members) const {
  return make(event, run, command_, members);
}

std::vector<OutboxEvent> Notifier::make(std::string_view event, long long run, const std::string& command,
                                        const JsonMembers& members) const {
  std::vector<OutboxEvent> out;
  std::string at = iso_now();
  long long now = now_ms();
  for (const Endpoint& e : endpoints_) {
    if (!e.wants(event)) continue;
    OutboxEvent o;
    o.id = new_delivery_id();
    o.event = event;
    o.url = e.url;
    o.run = run;
    o.next_at = now;
    JsonWriter w(o.body);
    w.begin_object();
    w.member("id", o.id);
    w.member("event", event);
    w.member("at", at);
    w.member("run", run);
    w.member("source", source_);
    w.member("command", command);
    o.body += members.text();
    w.end_object();
    o.signature = hmac_sha256_hex(e.secret, o.body);
    out.push_back(std::move(o));
  }
  return out;
}

long long now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

long long retry_delay_ms(int attempts) {
  long long delay = 500;
  for (int i = 1; i < attempts && delay < 60000; ++i) delay *= 2;
  return std::min(delay, 60000LL);
}

std::string new_delivery_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) fail(Msg::NoRandomBytes);
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

}  // namespace ochre
