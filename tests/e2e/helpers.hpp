// Small helpers shared by the e2e tests: the rows of a printed plan table, positions of
// hook lines in captured output, and text templates for pipelines.
#pragma once
#include <sstream>
#include <string>
#include <vector>

namespace e2e {

// One row of the plan table: `| 1 | CREATE     | Type/id/uuid.method: deps→0,2 |`.
struct PlanRow {
  int index = -1;
  std::string event;   // CREATE, UPDATE, DELETE
  std::string key;     // Type/identifier
  std::string uuid;
  std::string method;  // create, update, delete
  std::vector<int> deps;
};

inline std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The rows of every plan table in `out` (the header rows are left out).
inline std::vector<PlanRow> plan_rows(const std::string& out) {
  std::vector<PlanRow> rows;
  std::istringstream in(out);
  std::string line;
  const std::string arrow = ": deps\xe2\x86\x92";
  while (std::getline(in, line)) {
    if (line.rfind("| ", 0) != 0 || line.size() < 4 || line.compare(line.size() - 2, 2, " |") != 0)
      continue;
    std::vector<std::string> cols;
    std::string body = line.substr(1, line.size() - 2);
    for (size_t p = 0;;) {
      size_t q = body.find(" | ", p);
      cols.push_back(trim(body.substr(p, q == std::string::npos ? std::string::npos : q - p)));
      if (q == std::string::npos) break;
      p = q + 3;
    }
    if (cols.size() != 3 || cols[0] == "#") continue;
    PlanRow r;
    r.index = std::stoi(cols[0]);
    r.event = cols[1];
    std::string details = cols[2];
    size_t a = details.find(arrow);
    if (a != std::string::npos) {
      std::stringstream deps(details.substr(a + arrow.size()));
      for (std::string d; std::getline(deps, d, ',');) r.deps.push_back(std::stoi(d));
      details = details.substr(0, a);
    }
    size_t dot = details.rfind('.');
    size_t slash = details.rfind('/', dot);
    r.method = details.substr(dot + 1);
    r.uuid = details.substr(slash + 1, dot - slash - 1);
    r.key = details.substr(0, slash);
    rows.push_back(r);
  }
  return rows;
}

// The row for `key` doing `method`, or nullptr.
inline const PlanRow* find_row(const std::vector<PlanRow>& rows, const std::string& key,
                               const std::string& method) {
  for (const auto& r : rows)
    if (r.key == key && r.method == method) return &r;
  return nullptr;
}

// `text` with every `{{name}}` replaced by `value`.
inline std::string subst(std::string text, const std::string& name, const std::string& value) {
  const std::string pat = "{{" + name + "}}";
  for (size_t p = text.find(pat); p != std::string::npos; p = text.find(pat, p + value.size()))
    text.replace(p, pat.size(), value);
  return text;
}

// The 1-based number of the first line of `text` containing `marker`, or 0.
inline int line_of(const std::string& text, const std::string& marker) {
  size_t p = text.find(marker);
  if (p == std::string::npos) return 0;
  int line = 1;
  for (size_t i = 0; i < p; ++i) line += text[i] == '\n';
  return line;
}

// True when every needle occurs in `hay`, each after the previous one.
inline bool in_order(const std::string& hay, const std::vector<std::string>& needles) {
  size_t prev = 0;
  bool first = true;
  for (const auto& n : needles) {
    size_t p = hay.find(n);
    if (p == std::string::npos) return false;
    if (!first && p <= prev) return false;
    prev = p;
    first = false;
  }
  return true;
}

// The head of most test pipelines: `T(name, spec)` defines a component type whose missing
// hooks print "CREATE Type/id", "UPDATE Type/id" or "DELETE Type/id", one line each.
inline const char* const printing_prelude = R"(local ochre = require "ochre"
local function T(name, spec)
  spec.create = spec.create or function(self) print("CREATE " .. tostring(self)) end
  spec.update = spec.update or function(self, old) print("UPDATE " .. tostring(self)) end
  spec.delete = spec.delete or function(self) print("DELETE " .. tostring(self)) end
  return ochre.component(name)(spec)
end
)";

}  // namespace e2e
