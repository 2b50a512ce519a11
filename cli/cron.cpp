// Cron schedules (see cron.hpp). No packaged C or C++ cron parser was at hand, so this
// is the small one: fields into bit sets, then a walk minute by minute that skips whole
// days and hours that cannot match.
#include "cli/cron.hpp"

#include <sstream>
#include <vector>

#include "ochre/errors.hpp"

namespace ochre::cli {

namespace {

const char* const field_names[] = {"minute", "hour", "day-of-month", "month", "day-of-week"};

bool to_int(const std::string& s, int& out) {
  if (s.empty() || s.size() > 4) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// Sets in `bits` what `field` (field number `f`, values lo..hi) names.
template <size_t N>
void parse_field(const std::string& text, const std::string& field, int f, int lo, int hi, std::bitset<N>& bits) {
  auto bad = [&](const std::string& why) { fail(Msg::CronField, {text, field_names[f], field, why}); };
  if (field.empty()) bad("is empty");
  std::stringstream parts(field);
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (part.empty()) bad("has an empty list item");
    int step = 1;
    auto slash = part.find('/');
    std::string range = part.substr(0, slash);
    if (slash != std::string::npos && (!to_int(part.substr(slash + 1), step) || step < 1))
      bad("has a bad step '" + part.substr(slash + 1) + "' (a whole number, 1 or more)");
    int a = lo, b = hi;
    if (range != "*") {
      auto dash = range.find('-');
      if (!to_int(range.substr(0, dash), a) ||
          (dash != std::string::npos && !to_int(range.substr(dash + 1), b)))
        bad("is not *, a number, a range a-b or a step */n");
      if (dash == std::string::npos) b = slash == std::string::npos ? a : hi;
    }
    if (a < lo || b > hi || a > b)
      bad("is out of range (" + std::to_string(lo) + "-" + std::to_string(hi) + ")");
    for (int v = a; v <= b; v += step) bits.set(f == 4 ? v % 7 : v);
  }
}

}  // namespace

Cron parse_cron(const std::string& text) {
  std::vector<std::string> fields;
  std::istringstream in(text);
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5) fail(Msg::CronFields, {text});
  Cron c;
  parse_field(text, fields[0], 0, 0, 59, c.minute);
  parse_field(text, fields[1], 1, 0, 23, c.hour);
  parse_field(text, fields[2], 2, 1, 31, c.mday);
  parse_field(text, fields[3], 3, 1, 12, c.month);
  parse_field(text, fields[4], 4, 0, 7, c.wday);
  c.mday_any = fields[2][0] == '*';
  c.wday_any = fields[4][0] == '*';
  return c;
}

std::time_t next_cron(const Cron& c, std::time_t after) {
  std::tm t{};
  localtime_r(&after, &t);
  t.tm_sec = 0;
  t.tm_min += 1;
  t.tm_isdst = -1;
  std::time_t limit = after + 5 * 366 * 24 * 3600L;
  for (;;) {
    std::time_t now = std::mktime(&t);  // normalizes the fields
    if (now < 0 || now > limit) return -1;
    bool day_ok;
    if (c.mday_any || c.wday_any) day_ok = c.mday[t.tm_mday] && c.wday[t.tm_wday];
    else day_ok = c.mday[t.tm_mday] || c.wday[t.tm_wday];
    if (!c.month[t.tm_mon + 1] || !day_ok) {  // on to the next day
      t.tm_mday += 1;
      t.tm_hour = 0;
      t.tm_min = 0;
      t.tm_isdst = -1;
      continue;
    }
    if (!c.hour[t.tm_hour]) {
      t.tm_hour += 1;
      t.tm_min = 0;
      t.tm_isdst = -1;
      continue;
    }
    if (!c.minute[t.tm_min]) {
      t.tm_min += 1;
      t.tm_isdst = -1;
      continue;
    }
    return now;
  }
}

}  // namespace ochre::cli
