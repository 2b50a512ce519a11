// How a plan is shown: the original's table, JSON for machines, and explain.
#include <algorithm>
#include <array>

#include "engine/canonical.hpp"
#include "ochre/errors.hpp"
#include "engine/planner.hpp"

namespace ochre {

const char* const no_changes_text = "No changes needed \xe2\x80\x93 doing nothing!";

namespace {

size_t text_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad(const std::string& s, size_t width) {
  size_t w = text_width(s);
  return s + std::string(width > w ? width - w : 0, ' ');
}

std::string event_name(Action a) {
  switch (a) {
    case Action::Create: return "CREATE";
    case Action::Update: return "UPDATE";
    case Action::Delete: return "DELETE";
  }
  return "?";
}

std::string deps_text(const Job& job) {
  if (job.deps.empty()) return {};
  std::string out = ": deps\xe2\x86\x92";
  for (size_t i = 0; i < job.deps.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(job.deps[i]);
  }
  return out;
}

// What happens to a node: "create", "update", "replace" or "none".
std::string node_action(const Plan& plan, int node, const Job** job_out) {
  *job_out = nullptr;
  for (const Job& j : plan.jobs) {
    if (j.node != node) continue;
    *job_out = &j;
    return j.replace ? "replace" : action_name(j.action);
  }
  return "none";
}

const Value& shown(const Value& v, bool masked) {
  static const Value hidden = Value::of_string(sensitive_text);
  return masked ? hidden : v;
}

std::string changes_json(const std::vector<FieldChange>& changes, const Sensitive& sensitive,
                         const std::string& type) {
  std::string out = "[";
  for (size_t i = 0; i < changes.size(); ++i) {
    const FieldChange& c = changes[i];
    bool masked = is_sensitive(sensitive, type, c.field);
    if (i) out += ',';
    out += "{\"field\":" + json_quote(c.field);
    out += ",\"before\":" + (c.had_before ? to_json(shown(c.before, masked)) : "null");
    out += ",\"after\":" + (c.has_after ? to_json(shown(c.after, masked)) : "null");
    out += std::string(",\"breaking\":") + (c.breaking ? "true" : "false");
    if (!c.via.empty()) out += ",\"via\":" + json_quote(c.via);
    out += '}';
  }
  return out + "]";
}

}  // namespace

std::string format_table(const Plan& plan) {
  if (plan.empty()) return std::string(no_changes_text) + "\n";
  std::vector<std::array<std::string, 3>> rows;
  rows.push_back({"#", "Event type", "Details"});
  for (size_t i = 0; i < plan.jobs.size(); ++i) {
    const Job& j = plan.jobs[i];
    rows.push_back({std::to_string(i), event_name(j.action), j.details() + deps_text(j)});
  }
  // Columns are as wide as their cells, up to a point: a very long cell (a job with
  // thousands of deps) overflows instead of widening every row.
  constexpr size_t widest = 120;
  size_t w[3] = {0, 0, 0};
  for (const auto& r : rows)
    for (int c = 0; c < 3; ++c) {
      size_t cw = text_width(r[c]);
      if (cw <= widest) w[c] = std::max(w[c], cw);
    }
  std::string out;
  for (const auto& r : rows)
    out += "| " + pad(r[0], w[0]) + " | " + pad(r[1], w[1]) + " | " + pad(r[2], w[2]) + " |\n";
  return out;
}

std::string format_json(const Plan& plan, const Graph& graph, const Sensitive& sensitive) {
  std::string out = "{\"version\":1,\"jobs\":[";
  for (size_t i = 0; i < plan.jobs.size(); ++i) {
    const Job& j = plan.jobs[i];
    if (i) out += ',';
    std::string hash = j.node >= 0 ? graph.node(j.node).hash
                       : j.stored >= 0 ? plan.stored[j.stored].hash : "";
    out += "{\"index\":" + std::to_string(i);
    out += ",\"action\":" + json_quote(action_name(j.action));
    out += ",\"event\":" + json_quote(event_name(j.action));
    out += ",\"key\":" + json_quote(j.key) + ",\"type\":" + json_quote(j.type);
    out += ",\"identifier\":" + json_quote(j.identifier) + ",\"uuid\":" + json_quote(j.uuid);
    out += ",\"hash\":" + json_quote(hash);
    out += ",\"details\":" + json_quote(j.details());
    out += std::string(",\"replace\":") + (j.replace ? "true" : "false");
    out += ",\"reason\":" + json_quote(j.reason);
    out += ",\"changes\":" + changes_json(j.changes, sensitive, j.type);
    out += ",\"deps\":[";
    for (size_t k = 0; k < j.deps.size(); ++k) out += (k ? "," : "") + std::to_string(j.deps[k]);
    out += "]}";
  }
  out += "],\"nodes\":[";
  for (int n = 0; n < (int)graph.size(); ++n) {
    const Node& node = graph.node(n);
    const Job* job = nullptr;
    std::string action = node_action(plan, n, &job);
    if (n) out += ',';
    out += "{\"key\":" + json_quote(node.key) + ",\"type\":" + json_quote(node.type);
    out += ",\"identifier\":" + json_quote(node.identifier);
    out += ",\"uuid\":" + json_quote(node.uuid) + ",\"hash\":" + json_quote(node.hash);
    out += ",\"action\":" + json_quote(action);
    out += ",\"reason\":" + json_quote(job ? job->reason : "");
    out += ",\"changes\":" + changes_json(job ? job->changes : std::vector<FieldChange>{}, sensitive, node.type);
    out += ",\"breaks\":[";
    for (size_t k = 0; k < node.breaks.size(); ++k) out += (k ? "," : "") + json_quote(node.breaks[k]);
    out += "],\"inputs\":" + to_json(fields_to_value(mask_fields(node.fields, sensitive, node.type)));
    out += ",\"deps\":[";
    for (size_t k = 0; k < node.deps.size(); ++k)
      out += (k ? "," : "") + json_quote(graph.node(node.deps[k]).key);
    out += "],\"site\":" + json_quote(node.site) + "}";
  }
  out += "],\"roots\":[";
  for (size_t k = 0; k < graph.roots().size(); ++k)
    out += (k ? "," : "") + json_quote(graph.node(graph.roots()[k]).key);
  out += "]}\n";
  return out;
}

std::string format_explain(const Plan& plan, const Graph& graph, const std::string& key,
                           const Sensitive& sensitive) {
  std::string out;
  bool found = graph.find(key) >= 0;
  for (size_t i = 0; i < plan.jobs.size(); ++i) {
    const Job& j = plan.jobs[i];
    if (j.key != key) continue;
    found = true;
    out += key + ": " + event_name(j.action) + " (" + j.reason + ")\n";
    if (j.action == Action::Delete) continue;
    for (const FieldChange& c : j.changes) {
      out += "  " + c.field + ": ";
      bool masked = is_sensitive(sensitive, j.type, c.field);
      if (!c.via.empty()) out += "sub-component " + c.via + " changed";
      else out += (!c.had_before ? "(absent)" : masked ? sensitive_text : display(c.before)) + " -> " +
                  (!c.has_after ? "(absent)" : masked ? sensitive_text : display(c.after));
      out += c.breaking ? "  [breaking]\n" : "\n";
    }
  }
  if (!found) {
    for (const auto& s : plan.stored) found = found || s.key == key;
    if (!found) fail(Code::UnknownKey, {key, "the pipeline or the state"});
  }
  if (out.empty()) out = key + ": no change\n";
  return out;
}

}  // namespace ochre
