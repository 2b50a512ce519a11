// Notifications: the events an apply reports to webhooks (run started, finished or
// failed, a job failed, a component replaced) and the outbox rows that carry them. Rows
// are written in the transaction of what they report and sent later by the delivery
// thread (engine/delivery.hpp), each body signed with the webhook's secret.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/json_output.hpp"
#include "engine/state.hpp"

namespace ochre {

// The events, in the order they are listed to users.
inline constexpr const char* notify_events[] = {"run.started", "run.finished", "run.failed",
                                                "job.failed", "component.replaced"};
bool is_notify_event(std::string_view name);
// "" when `url` is an http:// or https:// URL ochre can post to, else what is wrong.
std::string check_webhook_url(std::string_view url);
// "scheme://host[:port]" of a URL: what messages show, since a webhook's path or query
// often holds a token.
std::string url_origin(std::string_view url);

// A webhook: where events go, the secret that signs them, which events it wants.
struct Endpoint {
  std::string url;
  std::string secret;
  std::vector<std::string> events;  // empty: every event
  bool wants(std::string_view event) const;
};

// The event-specific members of a body, in the order added.
class JsonMembers {
 public:
  // A string member; bytes that are not UTF-8 become U+FFFD (engine/json_output.hpp), so
  // the body is valid JSON.
  JsonMembers& add(std::string_view key, std::string_view text);
  JsonMembers& add(std::string_view key, long long number);
  const std::string& text() const { return text_; }  // `,"key":value,...`

 private:
  std::string text_;
};

// Makes the outbox rows of the events of one apply of `source` (`command`: "apply",
// "destroy").
class Notifier {
 public:
  Notifier(std::vector<Endpoint> endpoints, std::string source, std::string command);
  bool empty() const { return endpoints_.empty(); }
  // One row for each webhook that wants `event`, due now. The body is
  // {"id", "event", "at", "run", "source", "command", ...members}.
  std::vector<OutboxEvent> make(std::string_view event, long long run, const JsonMembers& members) const;
  // The same for a run of another command (a destroy that a run finds interrupted).
  std::vector<OutboxEvent> make(std::string_view event, long long run, const std::string& command,
                                const JsonMembers& members) const;

 private:
  std::vector<Endpoint> endpoints_;
  std::string source_, command_;
};

// Milliseconds since the epoch, the outbox's clock.
long long now_ms();
// How long to wait after the `attempts`-th failed attempt: 0.5 s, doubling, at most 60 s.
long long retry_delay_ms(int attempts);
// A new random delivery id (a version 4 UUID).
std::string new_delivery_id();

}  // namespace ochre
