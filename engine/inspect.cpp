#include "engine/inspect.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "engine/canonical.hpp"
#include "engine/hash.hpp"
#include "engine/json_output.hpp"
#include "ochre/errors.hpp"

namespace ochre {

namespace {

std::string status_text(const StoredInstance& s) {
  if (s.status == Status::Ok) return "ok";
  return std::string(status_name(s.status)) + " (" + action_name(s.action) + ")";
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

}  // namespace

std::string format_state_list(const std::vector<StoredInstance>& rows, bool json) {
  std::vector<std::reference_wrapper<const StoredInstance>> stored(rows.begin(), rows.end());
  std::sort(stored.begin(), stored.end(), [](const StoredInstance& a, const StoredInstance& b) { return a.key < b.key; });
  if (json) {
    // Written as it goes: a large state is not built as one tree first.
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    for (const StoredInstance& s : stored) {
      w.begin_object();
      w.member("key", s.key);
      w.member("type", s.type);
      w.member("identifier", s.identifier);
      w.member("uuid", s.uuid);
      w.member("hash", s.hash);
      w.member("status", status_name(s.status));
      w.member("action", action_name(s.action));
      w.member("run", s.run);
      w.end_object();
    }
    w.end_array();
    out += '\n';
    return out;
  }
  if (stored.empty()) return "The state is empty.\n";
  size_t w = 3;
  for (const StoredInstance& s : stored) w = std::max(w, s.key.size());
  std::string out = pad("KEY", w) + "  UUID              STATUS\n";
  for (const StoredInstance& s : stored) out += pad(s.key, w) + "  " + s.uuid + "  " + status_text(s) + "\n";
  return out;
}

std::string format_state_show(const StoredInstance& s, bool json, const Sensitive& sensitive) {
  const Fields fields = mask_fields(s.fields, sensitive, s.type);
  if (json) {
    return dump_json(Json{{"key", s.key},
                          {"type", s.type},
                          {"identifier", s.identifier},
                          {"uuid", s.uuid},
                          {"hash", s.hash},
                          {"status", status_name(s.status)},
                          {"action", action_name(s.action)},
                          {"error", s.error},
                          {"run", s.run},
                          {"fields", json_of(fields_to_value(fields))},
                          {"outputs", json_of(s.outputs)},
                          {"deps", s.deps}}) +
           "\n";
  }
  std::string out = s.key + "\n";
  out += "  uuid    " + s.uuid + "\n  hash    " + s.hash + "\n  status  " + status_text(s) + "\n";
  if (!s.error.empty()) out += "  error   " + s.error.substr(0, s.error.find('\n')) + "\n";
  out += "  run     " + std::to_string(s.run) + "\n  fields\n";
  for (const auto& [name, v] : s.fields)
    out += "    " + name + " = " + (is_sensitive(sensitive, s.type, name) ? sensitive_text : display(v, 200)) + "\n";
  out += "  outputs " + display(s.outputs, 200) + "\n";
  if (!s.deps.empty()) {
    out += "  deps    ";
    for (size_t i = 0; i < s.deps.size(); ++i) out += (i ? ", " : "") + s.deps[i];
    out += "\n";
  }
  return out;
}

std::string format_log(StateStore& state, int limit, bool json) {
  auto runs = state.runs(limit);
  if (json) {
    std::string out = "[";
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& r = runs[i];
      Json jobs = Json::array();
      for (const auto& j : state.jobs_of_run(r.id))
        jobs.push_back(Json{{"seq", j.seq},
                            {"key", j.key},
                            {"uuid", j.uuid},
                            {"action", j.action},
                            {"started", j.started},
                            {"ended", j.ended},
                            {"outcome", j.outcome},
                            {"error", j.error}});
      if (i) out += ',';
      write_json(Json{{"run", r.id},
                      {"command", r.command},
                      {"source", r.source},
                      {"started", r.started},
                      {"ended", r.ended},
                      {"outcome", r.outcome},
                      {"summary", r.summary},
                      {"pid", r.pid},
                      {"host", r.host},
                      {"user", r.user},
                      {"jobs", std::move(jobs)}},
                 out);
    }
    return out + "]\n";
  }
  if (runs.empty()) return "No runs yet.\n";
  std::string out;
  for (const auto& r : runs) {
    out += "run " + std::to_string(r.id) + "  " + r.started + "  " + r.command + "  " + r.outcome +
           (r.summary.empty() ? "" : " (" + r.summary + ")") + "\n";
    out += "  by " + r.user + "@" + r.host + " pid " + std::to_string(r.pid) + ", " + r.source + "\n";
    for (const auto& j : state.jobs_of_run(r.id)) {
      out += "  " + pad(j.outcome, 11) + " " + j.key + "/" + j.uuid + "." + j.action;
      if (!j.error.empty() && j.outcome != "done") out += ": " + j.error.substr(0, j.error.find('\n'));
      out += "\n";
    }
  }
  return out;
}

std::string format_history(const std::vector<VersionRecord>& versions, const std::string& key, bool json,
                           const Sensitive& sensitive) {
  std::string type, identifier;
  split_key(key, type, identifier);
  if (json) {
    std::string out = "[";
    for (size_t i = 0; i < versions.size(); ++i) {
      const auto& v = versions[i];
      if (i) out += ',';
      write_json(Json{{"key", v.key},
                      {"uuid", v.uuid},
                      {"hash", v.hash},
                      {"action", v.action},
                      {"at", v.at},
                      {"run", v.run},
                      {"job", v.job},
                      {"fields", json_of(fields_to_value(mask_fields(v.fields, sensitive, type)))},
                      {"outputs", json_of(v.outputs)}},
                 out);
    }
    return out + "]\n";
  }
  if (versions.empty()) return "No stored versions of " + key + ".\n";
  std::string out = key + "\n";
  for (const auto& v : versions) {
    out += "  " + v.at + "  run " + std::to_string(v.run) + "  " + pad(v.action, 6) + "  uuid " + v.uuid +
           "  hash " + v.hash + "\n";
    std::string fields;
    for (const auto& [name, val] : v.fields)
      if (name != "identifier")
        fields += (fields.empty() ? "" : ", ") + name + " = " +
                  (is_sensitive(sensitive, type, name) ? sensitive_text : display(val, 60));
    if (!fields.empty()) out += "    " + fields + "\n";
  }
  return out;
}

std::string format_graph(const Plan& plan, const Graph& graph, const std::string& format) {
  std::vector<std::string> action(graph.size(), "none");
  for (const Job& j : plan.jobs)
    if (j.node >= 0) action[j.node] = j.replace ? "replace" : action_name(j.action);
  std::vector<std::string> deleted;
  for (const Job& j : plan.jobs)
    if (j.node < 0 && !j.replace && graph.find(j.key) < 0) deleted.push_back(j.key);
  auto label = [](const std::string& key, const std::string& act) {
    return act == "none" ? key : key + " (" + act + ")";
  };
  std::string out;
  if (format == "text") {
    for (size_t i = 0; i < graph.size(); ++i) {
      out += label(graph.node(i).key, action[i]) + "\n";
      for (int d : graph.node(i).deps) out += "  <- " + graph.node(d).key + "\n";
    }
    for (const auto& k : deleted) out += label(k, "delete") + "\n";
    return out;
  }
  if (format == "mermaid") {
    // Mermaid labels are quoted; a quote inside is written as an entity.
    auto esc = [](std::string t) {
      for (size_t p = t.find('"'); p != std::string::npos; p = t.find('"', p + 6)) t.replace(p, 1, "#quot;");
      return t;
    };
    out = "graph LR\n";
    auto id = [](size_t i) { return "n" + std::to_string(i); };
    for (size_t i = 0; i < graph.size(); ++i)
      out += "  " + id(i) + "[\"" + esc(label(graph.node(i).key, action[i])) + "\"]:::" + action[i] + "\n";
    for (size_t i = 0; i < deleted.size(); ++i)
      out += "  d" + std::to_string(i) + "[\"" + esc(label(deleted[i], "delete")) + "\"]:::delete\n";
    for (size_t i = 0; i < graph.size(); ++i)
      for (int d : graph.node(i).deps) out += "  " + id(d) + " --> " + id(i) + "\n";
    out += "  classDef create fill:#d4f7d4\n  classDef update fill:#fff3c4\n"
           "  classDef replace fill:#ffd9b3\n  classDef delete fill:#f7d4d4\n  classDef none fill:#eeeeee\n";
    return out;
  }
  if (format != "dot") fail(Msg::GraphFormat);
  static const std::map<std::string, std::string> colour = {
      {"create", "palegreen"}, {"update", "lightgoldenrod1"}, {"replace", "sandybrown"},
      {"delete", "lightpink"}, {"none", "gray90"}};
  out = "digraph ochre {\n  rankdir=LR;\n  node [shape=box, style=filled];\n";
  for (size_t i = 0; i < graph.size(); ++i)
    out += "  " + quote_literal(graph.node(i).key) + " [label=" + quote_literal(label(graph.node(i).key, action[i])) +
           ", fillcolor=" + colour.at(action[i]) + "];\n";
  for (const auto& k : deleted)
    out += "  " + quote_literal(k) + " [label=" + quote_literal(label(k, "delete")) + ", fillcolor=lightpink];\n";
  for (size_t i = 0; i < graph.size(); ++i)
    for (int d : graph.node(i).deps)
      out += "  " + quote_literal(graph.node(d).key) + " -> " + quote_literal(graph.node(i).key) + ";\n";
  return out + "}\n";
}

namespace {

Value rename_refs(const Value& v, const std::string& from, const std::string& to) {
  Value out = v;
  switch (v.kind) {
    case Value::Kind::Ref:
      if (v.text == from) out.text = to;
      break;
    case Value::Kind::Array:
      for (auto& item : out.items) item = rename_refs(item, from, to);
      break;
    case Value::Kind::Map:
      for (auto& [k, val] : out.entries) val = rename_refs(val, from, to);
      break;
    default: break;
  }
  return out;
}

}  // namespace

std::vector<StoredInstance> plan_move(const std::vector<StoredInstance>& stored,
                                      const std::string& from, const std::string& to,
                                      const std::string& hash_key) {
  std::string from_type, from_id, to_type, to_id;
  if (!split_key(from, from_type, from_id)) fail(Msg::NotAKey, {from});
  if (!split_key(to, to_type, to_id)) fail(Msg::NotAKey, {to});
  if (from_type != to_type) fail(Msg::MoveTypes, {from, to});
  std::unordered_map<std::string, StoredInstance> rows;
  for (const auto& s : stored) rows.emplace(s.key, s);
  if (!rows.count(from)) fail(Msg::UnknownKeyNotStored, {from});
  if (rows.count(to)) fail(Msg::MoveTaken, {to});

  // Rename, and rewrite every reference.
  StoredInstance moved = rows.at(from);
  rows.erase(from);
  moved.key = to;
  moved.identifier = to_id;
  for (auto& [name, v] : moved.fields)
    if (name == "identifier") v = Value::of_string(to_id);
  rows.emplace(to, std::move(moved));
  std::unordered_map<std::string, std::vector<std::string>> users;
  for (auto& [key, s] : rows) {
    for (auto& d : s.deps) {
      if (d == from) d = to;
      users[d].push_back(key);
    }
    for (auto& [name, v] : s.fields) v = rename_refs(v, from, to);
  }

  // The moved instance and everything above it get new ids, children first.
  std::vector<std::string> order;
  std::unordered_set<std::string> seen;
  std::function<void(const std::string&)> up = [&](const std::string& k) {
    if (!seen.insert(k).second) return;
    for (const auto& u : users[k]) up(u);
    order.push_back(k);
  };
  up(to);
  std::reverse(order.begin(), order.end());
  IdLookup lookup = [&](const std::string& key, Tree tree) -> std::string_view {
    auto it = rows.find(key);
    if (it == rows.end()) fail(Msg::MoveDangling, {key});
    return tree == Tree::Full ? it->second.hash.view() : it->second.uuid.view();
  };
  std::vector<StoredInstance> changed;
  for (const auto& k : order) {
    StoredInstance& s = rows.at(k);
    if (!s.breaks_known) fail(Msg::MoveOlder, {k == to ? from : k});
    Ids ids = compute_ids(s.type, s.identifier, s.breaks, s.fields, lookup, s.sensitive, hash_key);
    s.uuid = ids.uuid;
    s.hash = ids.hash;
    changed.push_back(s);
  }
  return changed;
}

}  // namespace ochre
