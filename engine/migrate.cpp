// Copying a whole state between stores (SQLite <-> PostgreSQL): ochre state migrate.
#include <algorithm>

#include "engine/canonical.hpp"
#include "engine/state.hpp"
#include "ochre/errors.hpp"
#include "ochre/state.hpp"

namespace ochre {

namespace {

// The first part of an instance that differs between `a` and `b`, or "".
std::string instance_difference(const StoredInstance& a, const StoredInstance& b) {
  if (a.key != b.key || a.type != b.type || a.identifier != b.identifier) return "name";
  if (a.uuid != b.uuid || a.hash != b.hash) return "ids";
  if (a.fields != b.fields) return "fields";
  if (a.outputs != b.outputs) return "outputs";
  if (a.deps != b.deps) return "deps";
  if (a.breaks != b.breaks || a.breaks_known != b.breaks_known) return "breaking fields";
  if (a.sensitive != b.sensitive) return "sensitive fields";
  if (a.status != b.status || a.action != b.action || a.error != b.error) return "status";
  return "";
}

// What differs between the original and the copy (the journal's ids aside), or "".
std::string difference(const Snapshot& a, const Snapshot& b) {
  if (a.instances.size() != b.instances.size()) return "the number of instances";
  // Stores list instances in an order of their own: compared by key.
  auto by_key = [](const Snapshot& s) {
    std::vector<const StoredInstance*> v;
    for (const auto& i : s.instances) v.push_back(&i);
    std::sort(v.begin(), v.end(), [](auto* x, auto* y) { return x->key < y->key; });
    return v;
  };
  auto ai = by_key(a), bi = by_key(b);
  for (size_t i = 0; i < ai.size(); ++i)
    if (std::string part = instance_difference(*ai[i], *bi[i]); !part.empty())
      return "instance " + ai[i]->key + " (" + part + ")";
  if (a.roots != b.roots) return "the roots";
  if (a.runs.size() != b.runs.size()) return "the number of runs";
  for (size_t i = 0; i < a.runs.size(); ++i) {
    const RunRecord &x = a.runs[i], &y = b.runs[i];
    if (x.command != y.command || x.source != y.source || x.started != y.started || x.ended != y.ended ||
        x.outcome != y.outcome || x.summary != y.summary)
      return "run " + std::to_string(x.id);
  }
  if (a.jobs.size() != b.jobs.size()) return "the number of jobs";
  for (size_t i = 0; i < a.jobs.size(); ++i) {
    const JobRecord &x = a.jobs[i], &y = b.jobs[i];
    if (x.key != y.key || x.seq != y.seq || x.action != y.action || x.outcome != y.outcome ||
        x.error != y.error || x.output != y.output || x.started != y.started || x.ended != y.ended)
      return "job " + std::to_string(x.id) + " (" + x.key + ")";
  }
  if (a.versions.size() != b.versions.size()) return "the number of versions";
  for (size_t i = 0; i < a.versions.size(); ++i) {
    const VersionRecord &x = a.versions[i], &y = b.versions[i];
    if (x.key != y.key || x.uuid != y.uuid || x.hash != y.hash || x.action != y.action || x.at != y.at ||
        x.fields != y.fields || x.outputs != y.outputs)
      return "a version of " + x.key;
  }
  return "";
}

}  // namespace

MigrateReport migrate_state(const std::string& from, const std::string& to, const std::string& workspace,
                            double lock_timeout) {
  if (from == to) fail(Msg::MigrateSame);
  auto source_lock = lock_state(from, workspace, lock_timeout);
  auto target_lock = lock_state(to, workspace, lock_timeout);
  Snapshot original;
  {
    auto source = open_state(from, workspace, OpenMode::ReadOnly);
    original = source->snapshot();
  }
  if (original.instances.empty() && original.runs.empty())
    fail(Msg::MigrateNothing, {redact_location(from)});
  {
    auto target = open_state(to, workspace, OpenMode::ReadWrite);
    target->restore(original);
  }
  auto check = open_state(to, workspace, OpenMode::ReadOnly);
  Snapshot copied = check->snapshot();
  std::string diff = difference(original, copied);
  if (diff.empty() && !original.hash_key.empty() && copied.hash_key != original.hash_key) diff = "the state's key";
  if (!diff.empty()) fail(Msg::MigrateDiffers, {redact_location(to), diff});
  MigrateReport r;
  r.instances = original.instances.size();
  r.roots = original.roots.size();
  r.runs = original.runs.size();
  r.jobs = original.jobs.size();
  r.versions = original.versions.size();
  return r;
}

}  // namespace ochre
