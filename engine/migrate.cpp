#include "engine/migrate.hpp"

#include "engine/canonical.hpp"
#include "engine/state.hpp"
#include "ochre/errors.hpp"

namespace ochre {

namespace {

bool same_instance(const StoredInstance& a, const StoredInstance& b) {
  return a.key == b.key && a.type == b.type && a.identifier == b.identifier && a.uuid == b.uuid &&
         a.hash == b.hash && a.fields == b.fields &&
         a.outputs == b.outputs && a.deps == b.deps && a.breaks == b.breaks &&
         a.breaks_known == b.breaks_known && a.sensitive == b.sensitive && a.status == b.status &&
         a.action == b.action && a.error == b.error;
}

// What differs between the original and the copy (the journal's ids aside), or "".
std::string difference(const Snapshot& a, const Snapshot& b) {
  if (a.instances.size() != b.instances.size()) return "the number of instances";
  for (size_t i = 0; i < a.instances.size(); ++i)
    if (!same_instance(a.instances[i], b.instances[i])) return "instance " + a.instances[i].key;
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
  if (from == to) fail(Code::Usage, {"--from and --to name the same state"});
  auto source_lock = lock_state(from, workspace, lock_timeout);
  auto target_lock = lock_state(to, workspace, lock_timeout);
  Snapshot original;
  {
    auto source = open_state(from, workspace, OpenMode::ReadOnly);
    original = source->snapshot();
  }
  if (original.instances.empty() && original.runs.empty())
    fail(Code::State, {redact_location(from), "holds nothing to migrate (check --from and --workspace)"});
  {
    auto target = open_state(to, workspace, OpenMode::ReadWrite);
    target->restore(original);
  }
  auto check = open_state(to, workspace, OpenMode::ReadOnly);
  std::string diff = difference(original, check->snapshot());
  if (!diff.empty())
    fail(Code::State, {redact_location(to), "the copy differs from the original in " + diff});
  MigrateReport r;
  r.instances = original.instances.size();
  r.roots = original.roots.size();
  r.runs = original.runs.size();
  r.jobs = original.jobs.size();
  r.versions = original.versions.size();
  return r;
}

}  // namespace ochre
