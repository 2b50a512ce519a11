// Five-field cron schedules for `ochre watch --cron`: minute hour day-of-month month
// day-of-week, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of
// those separated by commas. Local time. As in Vixie cron, when both day fields are
// restricted a day matches either one; day-of-week 7 is Sunday, like 0.
#pragma once
#include <bitset>
#include <ctime>
#include <string>

namespace ochre::cli {

struct Cron {
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> mday;   // 1..31
  std::bitset<13> month;  // 1..12
  std::bitset<7> wday;    // 0..6, Sunday 0
  bool mday_any = true, wday_any = true;
};

// Throws a usage error (exit 2) naming the bad field.
Cron parse_cron(const std::string& text);
// The first minute strictly after `after` that the schedule matches, in local time;
// -1 when none comes within about five years (e.g. "0 0 31 2 *").
std::time_t next_cron(const Cron& cron, std::time_t after);

}  // namespace ochre::cli
