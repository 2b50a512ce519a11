// `ochre watch --cron`: the five-field schedule parser and the next matching minute.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

#include "cli/cron.hpp"
#include "ochre/errors.hpp"

using namespace ochre;
using ochre::cli::next_cron;
using ochre::cli::parse_cron;

namespace {
// Local time from its parts.
std::time_t at(int y, int mo, int d, int h, int mi) {
  std::tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_isdst = -1;
  return std::mktime(&t);
}
std::string error_of(const std::string& text) {
  try {
    parse_cron(text);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::User);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("cron: fields, lists, ranges and steps", "[cron]") {
  auto c = parse_cron("*/15 1-3,22 * * 1-5");
  CHECK(c.minute.count() == 4);
  CHECK(c.minute[0]);
  CHECK(c.minute[45]);
  CHECK_FALSE(c.minute[5]);
  CHECK(c.hour.count() == 4);
  CHECK(c.hour[22]);
  CHECK(c.wday.count() == 5);
  CHECK_FALSE(c.wday[0]);
  CHECK(parse_cron("0 0 * * 7").wday[0]);  // 7 is Sunday too
  CHECK(parse_cron("0 0 * * 5/1").wday.count() == 3);  // 5, 6, 7 (= 0)
  CHECK(parse_cron("  0   3 * * *  ").hour.count() == 1);
}

TEST_CASE("cron: the next matching minute, in local time", "[cron]") {
  std::time_t base = at(2026, 3, 10, 14, 7);  // a Tuesday
  CHECK(next_cron(parse_cron("* * * * *"), base) == at(2026, 3, 10, 14, 8));
  CHECK(next_cron(parse_cron("0 3 * * *"), base) == at(2026, 3, 11, 3, 0));
  CHECK(next_cron(parse_cron("30 14 * * *"), base) == at(2026, 3, 10, 14, 30));
  CHECK(next_cron(parse_cron("0 0 1 * *"), base) == at(2026, 4, 1, 0, 0));
  CHECK(next_cron(parse_cron("0 9 * * 0"), base) == at(2026, 3, 15, 9, 0));  // Sunday
  // Both day fields restricted: either matches (the 13th, or a Friday: the 13th is one).
  CHECK(next_cron(parse_cron("0 0 20 * 5"), base) == at(2026, 3, 13, 0, 0));
  CHECK(next_cron(parse_cron("0 0 29 2 *"), base) == at(2028, 2, 29, 0, 0));
  CHECK(next_cron(parse_cron("0 0 31 2 *"), base) == -1);
  // Strictly after: at a matching minute, the next one.
  CHECK(next_cron(parse_cron("7 14 * * *"), base) == at(2026, 3, 11, 14, 7));
}

TEST_CASE("cron: a bad expression is a usage error naming the field", "[cron]") {
  CHECK(error_of("0 3 * *").find("five fields") != std::string::npos);
  CHECK(error_of("0 3 * * * *").find("five fields") != std::string::npos);
  CHECK(error_of("60 3 * * *").find("the minute field '60' is out of range (0-59)") != std::string::npos);
  CHECK(error_of("0 24 * * *").find("the hour field '24'") != std::string::npos);
  CHECK(error_of("0 3 0 * *").find("the day-of-month field '0'") != std::string::npos);
  CHECK(error_of("0 3 * 13 *").find("the month field") != std::string::npos);
  CHECK(error_of("0 3 * * 8").find("the day-of-week field") != std::string::npos);
  CHECK(error_of("*/0 3 * * *").find("bad step") != std::string::npos);
  CHECK(error_of("a 3 * * *").find("is not *, a number") != std::string::npos);
  CHECK(error_of("1,,2 3 * * *").find("empty list item") != std::string::npos);
  CHECK(error_of("5-1 3 * * *").find("out of range") != std::string::npos);
}
