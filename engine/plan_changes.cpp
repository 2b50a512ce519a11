// What a plan changes, under its table: each created, updated, replaced and deleted
// instance with its reason, the fields an update or replace changes (breaking ones
// marked, long and multi-line values as a short diff), and the count line
// "Plan: N to create, N to update, N to replace, N to delete."
#include <algorithm>
#include <functional>

#include "engine/canonical.hpp"
#include "engine/planner.hpp"
#include "engine/sensitive.hpp"

namespace ochre {

namespace {

// Values longer than this, or on several lines, are shown as a short diff.
constexpr size_t short_value = 60;
// Lines of a multi-line diff shown on each side before "... N more".
constexpr size_t diff_lines = 6;
// Characters shown around the first difference of a long single-line value.
constexpr size_t context = 20;

// `s` cut to at most `n` bytes, not inside a UTF-8 sequence.
std::string cut(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

// The start of `s`'s last `n` bytes, not inside a UTF-8 sequence.
size_t tail_start(std::string_view s, size_t n) {
  size_t at = s.size() > n ? s.size() - n : 0;
  while (at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) ++at;
  return at;
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t p = 0;;) {
    size_t q = s.find('\n', p);
    out.push_back(s.substr(p, q == std::string_view::npos ? std::string_view::npos : q - p));
    if (q == std::string_view::npos) break;
    p = q + 1;
  }
  return out;
}

// A multi-line string's change: the differing lines between the common first and last
// ones, at most diff_lines of each side.
void line_diff(std::string& out, const std::string& field, std::string_view before, std::string_view after,
               bool breaking) {
  auto a = split_lines(before), b = split_lines(after);
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head && a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
    ++tail;
  out += "  ~ " + field + ": " + std::to_string(a.size()) + (a.size() == 1 ? " line" : " lines") + " -> " +
         std::to_string(b.size()) + (b.size() == 1 ? " line" : " lines") + ", from line " +
         std::to_string(head + 1) + (breaking ? "  [breaking]\n" : "\n");
  auto side = [&](const std::vector<std::string_view>& lines, const char* mark) {
    size_t end = lines.size() - tail;
    for (size_t i = head; i < end && i < head + diff_lines; ++i)
      out += std::string("      ") + mark + " " + display(Value::of_string(std::string(lines[i])), 100) + "\n";
    if (end - head > diff_lines) out += "      ... " + std::to_string(end - head - diff_lines) + " more\n";
  };
  side(a, "-");
  side(b, "+");
}

// A long single-line string's change: the text around its first difference (bytes
// [from, to) differ), "..." where it is cut.
std::string around(std::string_view s, size_t from, size_t to) {
  size_t start = tail_start(s.substr(0, from), context);
  std::string piece = cut(s.substr(start), from - start + std::min(to - from, short_value - context) + context);
  return (start > 0 ? "..." : "") + display(Value::of_string(piece), 4 * short_value) +
         (start + piece.size() < s.size() ? "..." : "");
}

void field_change(std::string& out, const FieldChange& c, bool masked) {
  std::string mark = c.breaking ? "  [breaking]\n" : "\n";
  if (!c.via.empty()) {
    out += "  ~ " + c.field + ": sub-component " + c.via + " changed" + mark;
    return;
  }
  bool strings = c.had_before && c.has_after && !masked && c.before.kind == Value::Kind::String &&
                 c.after.kind == Value::Kind::String;
  if (strings && (c.before.text.find('\n') != std::string::npos || c.after.text.find('\n') != std::string::npos)) {
    line_diff(out, c.field, c.before.text, c.after.text, c.breaking);
    return;
  }
  if (strings && (c.before.text.size() > short_value || c.after.text.size() > short_value)) {
    const std::string &a = c.before.text, &b = c.after.text;
    size_t head = 0;
    while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
    while (head > 0 && (static_cast<unsigned char>(a[head]) & 0xC0) == 0x80) --head;
    size_t tail = 0;
    while (tail < a.size() - head && tail < b.size() - head && a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
      ++tail;
    out += "  ~ " + c.field + ": " + around(a, head, a.size() - tail) + " -> " + around(b, head, b.size() - tail) +
           mark;
    return;
  }
  auto shown = [&](bool has, const Value& v) {
    return !has ? std::string("(absent)") : masked ? std::string(sensitive_text) : display(v, short_value);
  };
  out += "  ~ " + c.field + ": " + shown(c.had_before, c.before) + " -> " + shown(c.has_after, c.after) + mark;
}

}  // namespace

std::string plan_counts(const Plan& plan) {
  size_t create = 0, update = 0, replace = 0, remove = 0;
  for (const Job& j : plan.jobs) {
    if (j.replace) replace += j.action == Action::Create;
    else if (j.action == Action::Create) ++create;
    else if (j.action == Action::Update) ++update;
    else ++remove;
  }
  return "Plan: " + std::to_string(create) + " to create, " + std::to_string(update) + " to update, " +
         std::to_string(replace) + " to replace, " + std::to_string(remove) + " to delete.\n";
}

void format_changes(const Plan& plan, const Sensitive& sensitive, const std::function<void(std::string_view)>& write) {
  if (plan.empty()) return;
  constexpr size_t piece = 64 * 1024;
  std::string out = "\n";
  for (const Job& j : plan.jobs) {
    if (j.replace && j.action == Action::Delete) continue;  // shown with its create
    const char* mark = j.replace ? "-/+ " : j.action == Action::Create ? "+ " : j.action == Action::Update ? "~ " : "- ";
    out += mark + j.key + " (" + j.reason + ")\n";
    for (const FieldChange& c : j.changes) field_change(out, c, is_sensitive(sensitive, j.type, c.field));
    if (out.size() >= piece) {
      write(out);
      out.clear();
    }
  }
  out += "\n" + plan_counts(plan);
  write(out);
}

}  // namespace ochre
