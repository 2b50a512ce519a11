// How a plan is shown: the original's table, JSON for machines, and explain.
#include <algorithm>
#include <functional>

#include "engine/canonical.hpp"
#include "engine/json_output.hpp"
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

// Appends `s`, padded with spaces to `width` characters.
void append_padded(std::string& out, const std::string& s, size_t width) {
  size_t w = text_width(s);
  out += s;
  if (width > w) out.append(width - w, ' ');
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

const Value& shown(const Value& v, bool masked) {
  static const Value hidden = Value::of_string(sensitive_text);
  return masked ? hidden : v;
}

void write_changes(JsonWriter& w, const std::vector<FieldChange>& changes, const Sensitive& sensitive,
                   const std::string& type) {
  w.begin_array();
  for (const FieldChange& c : changes) {
    bool masked = is_sensitive(sensitive, type, c.field);
    w.begin_object();
    w.member("field", c.field);
    w.key("before");
    if (c.had_before) w.value(shown(c.before, masked));
    else w.null();
    w.key("after");
    if (c.has_after) w.value(shown(c.after, masked));
    else w.null();
    w.member("breaking", c.breaking);
    if (!c.via.empty()) w.member("via", c.via);
    w.end_object();
  }
  w.end_array();
}

}  // namespace

// What happens to a node: "create", "update", "replace" or "none". `job_of` gives each
// node's job (node_jobs).
std::string node_action(const Plan& plan, const std::vector<int>& job_of, int node, const Job** job_out) {
  *job_out = nullptr;
  if (job_of[node] < 0) return "none";
  const Job& j = plan.jobs[job_of[node]];
  *job_out = &j;
  return j.replace ? "replace" : action_name(j.action);
}

// The first job of each node, or -1.
std::vector<int> node_jobs(const Plan& plan, const Graph& graph) {
  std::vector<int> job_of(graph.size(), -1);
  for (int i = 0; i < static_cast<int>(plan.jobs.size()); ++i) {
    int n = plan.jobs[i].node;
    if (n >= 0 && job_of[n] < 0) job_of[n] = i;
  }
  return job_of;
}


// What the plan's ochre.moved and ochre.removed change in the state, a line each.
static std::string edits_text(const StateEdits& edits) {
  std::string out;
  for (const PlannedMove& m : edits.moves) out += message(Msg::PlanMoved, {m.from, m.to}) + "\n";
  for (const std::string& key : edits.forgets) out += message(Msg::PlanForgotten, {key}) + "\n";
  return out;
}

void format_table(const Plan& plan, const std::function<void(std::string_view)>& write) {
  if (!plan.edits.empty()) write(edits_text(plan.edits));
  if (plan.empty()) {
    write(std::string(no_changes_text) + "\n");
    return;
  }
  // Two passes, the details made in each: a plan of 100,000 jobs is neither kept as
  // one string nor as a string a row (written out in pieces of about 64 KB).
  const size_t n = plan.jobs.size();
  auto details = [&](size_t i) { return plan.jobs[i].details() + deps_text(plan.jobs[i]); };
  // Columns are as wide as their cells, up to a point: a very long cell (a job with
  // thousands of deps) overflows instead of widening every row.
  constexpr size_t widest = 120;
  size_t w[3] = {1, 10, 7};  // "#", "Event type", "Details"
  w[0] = std::max(w[0], std::to_string(n - 1).size());
  for (size_t i = 0; i < n; ++i) {
    w[1] = std::max(w[1], event_name(plan.jobs[i].action).size());
    size_t cw = text_width(details(i));
    if (cw <= widest) w[2] = std::max(w[2], cw);
  }
  constexpr size_t piece = 64 * 1024;
  std::string out;
  out.reserve(piece + w[0] + w[1] + w[2] + 11 + widest);
  auto row = [&](const std::string& a, const std::string& b, const std::string& c) {
    out += "| ";
    append_padded(out, a, w[0]);
    out += " | ";
    append_padded(out, b, w[1]);
    out += " | ";
    append_padded(out, c, w[2]);
    out += " |\n";
    if (out.size() >= piece) {
      write(out);
      out.clear();
    }
  };
  row("#", "Event type", "Details");
  for (size_t i = 0; i < n; ++i) row(std::to_string(i), event_name(plan.jobs[i].action), details(i));
  if (!out.empty()) write(out);
}

std::string format_table(const Plan& plan) {
  std::string out;
  format_table(plan, [&out](std::string_view piece) { out.append(piece); });
  return out;
}

std::string format_json(const Plan& plan, const Graph& graph, const Sensitive& sensitive,
                        const std::vector<std::string>& inputs) {
  // Written as it goes: a plan of 100,000 instances is not built as one tree first.
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member("version", 1);
  w.key("jobs");
  w.begin_array();
  for (size_t i = 0; i < plan.jobs.size(); ++i) {
    const Job& j = plan.jobs[i];
    w.begin_object();
    w.member("index", i);
    w.member("action", action_name(j.action));
    w.member("event", event_name(j.action));
    w.member("key", j.key);
    w.member("type", j.type);
    w.member("identifier", j.identifier);
    w.member("uuid", j.uuid);
    w.member("hash", j.node >= 0 ? graph.node(j.node).hash : j.stored >= 0 ? plan.stored[j.stored].hash : "");
    w.member("details", j.details());
    w.member("replace", j.replace);
    w.member("reason", j.reason);
    w.key("changes");
    write_changes(w, j.changes, sensitive, j.type);
    w.member("deps", j.deps);
    // Decided once the jobs of these sub-components end (read and hashed again then).
    w.member("deferred", j.deferred);
    if (j.deferred) {
      w.key("waits_for");
      w.begin_array();
      for (int d : j.waits_for) w.value(graph.node(d).key);
      w.end_array();
    }
    w.end_object();
  }
  w.end_array();
  w.key("nodes");
  w.begin_array();
  const std::vector<int> job_of = node_jobs(plan, graph);
  for (int n = 0; n < (int)graph.size(); ++n) {
    const Node& node = graph.node(n);
    const Job* job = nullptr;
    std::string action = node_action(plan, job_of, n, &job);
    w.begin_object();
    w.member("key", node.key);
    w.member("type", node.type);
    w.member("identifier", node.identifier);
    w.member("uuid", node.uuid);
    w.member("hash", node.hash);
    w.member("action", action);
    w.member("reason", job ? job->reason : "");
    w.key("changes");
    write_changes(w, job ? job->changes : std::vector<FieldChange>{}, sensitive, node.type);
    w.member("breaks", node.breaks);
    w.key("inputs");
    w.begin_object();
    for (const auto& [name, v] : node.fields) w.member(name, shown(v, is_sensitive(sensitive, node.type, name)));
    w.end_object();
    w.key("deps");
    w.begin_array();
    for (int d : node.deps) w.value(graph.node(d).key);
    w.end_array();
    w.member("site", node.site);
    w.end_object();
  }
  w.end_array();
  w.key("roots");
  w.begin_array();
  for (int r : graph.roots()) w.value(graph.node(r).key);
  w.end_array();
  w.member("inputs", inputs);  // the files the pipeline read while it loaded
  if (!plan.edits.moves.empty()) {  // ochre.moved that the state needs
    w.key("moved");
    w.begin_array();
    for (const PlannedMove& m : plan.edits.moves) {
      w.begin_object();
      w.member("from", m.from);
      w.member("to", m.to);
      w.end_object();
    }
    w.end_array();
  }
  if (!plan.edits.forgets.empty()) w.member("removed", plan.edits.forgets);  // ochre.removed, destroy = false
  w.end_object();
  out += '\n';
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
    if (j.deferred) {
      std::string deps;
      for (int d : j.waits_for) deps += (deps.empty() ? "" : ", ") + graph.node(d).key;
      out += "  decided after " + deps + ": " + (graph.node(j.node).has_read ? "read and hashed" : "hashed") +
             " again once their jobs end, it may turn out unchanged\n";
    }
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
    if (!found) fail(Msg::UnknownKeyAnywhere, {key});
  }
  if (out.empty()) out = key + ": no change\n";
  return out;
}

}  // namespace ochre
