// Deferred decisions (engine/scheduler.hpp). A job whose sub-components had jobs in this
// run is decided once they ended (the planner marks it deferred): its node is read again
// (if its type has a read hook) and hashed again with its sub-components' ids as they
// came out, and then it runs as planned, runs as a replace, or needs no hook at all
// (outcome Cutoff): unchanged, or changed only through sub-components whose type has
// `cutoff` and whose outputs came out the same as stored. Without read hooks and cutoff
// types nothing is hashed again.
#include "engine/scheduler.hpp"

namespace ochre::detail {

// Starts the read of a deferred job's node; the job counts as running meanwhile.
void Scheduler::start_reread(int j) {
  started_[j] = 1;
  ++running_;
  runner_.reread(plan_.jobs[j].node, graph_, [this, j](JobOutcome o, PackedFields f) {
    reread_.emplace_back(j, std::make_pair(std::move(o), std::move(f)));
  });
}

void Scheduler::reread_done(int j, JobOutcome outcome, PackedFields fields) {
  if (report_.outcome[j] >= 0) return;  // abandoned already
  if (outcome.kind != JobOutcome::Done) {
    journal_id_[j] = 0;
    finish(j, std::move(outcome));
    return;
  }
  --running_;
  started_[j] = 0;
  const Node& node = graph_.node(plan_.jobs[j].node);
  bool changed = !(fields == node.fields);
  if (changed) graph_.set_fields(plan_.jobs[j].node, std::move(fields));
  decide(j, changed);
  if (report_.outcome[j] < 0) start(j);  // not cut off: its hook runs now
}

// Decides deferred job `j` (its fields read anew: `read_changed`). Leaves it to run
// its hook (perhaps as a replace), or records it cut off.
void Scheduler::decide(int j, bool read_changed) {
  decided_[j] = 1;
  Job& job = plan_.jobs[j];
  int n = job.node;
  const Node& node = graph_.node(n);
  bool cut_dep = false, moved_dep = false;
  for (int d : node.deps) {
    cut_dep = cut_dep || cut_[d];
    moved_dep = moved_dep || moved_[d];
  }
  if (!read_changed && !cut_dep && !moved_dep) return;  // as planned
  Ids now = graph_.ids(n);
  if (now.uuid != node.uuid || now.hash != node.hash) {
    moved_[n] = 1;
    graph_.set_ids(n, std::move(now));
    job.uuid = node.uuid;
  }
  const StoredInstance* st = job.stored >= 0 ? &plan_.stored[job.stored] : nullptr;
  if (job.action != Action::Update || !st || st->status != Status::Ok) return;
  if (node.hash == st->hash) return cut_off(j, "unchanged once its sub-components ran");
  if (cut_dep) {
    IdLookup as_stored = [&](const std::string& key, Tree tree) -> std::string_view {
      int d = graph_.find(key);
      const StoredInstance* ds = cut_[d] ? plan_.find_stored(key) : nullptr;
      std::string_view id = ds ? (tree == Tree::Full ? ds->hash.view() : ds->uuid.view())
                                 : (tree == Tree::Full ? graph_.node(d).hash.view() : graph_.node(d).uuid.view());
      return id;
    };
    Ids before = graph_.ids(n, as_stored);
    if (before.hash == st->hash) {
      std::string which;
      for (int d : node.deps)
        if (cut_[d]) which += (which.empty() ? "" : ", ") + graph_.node(d).key;
      return cut_off(j, "cutoff: the outputs of " + which + " did not change");
    }
  }
  if (node.uuid != st->uuid) {
    // A breaking field changed once its sub-components ran: the stored version is
    // deleted first, then the new one created, in this one job.
    replace_first_[j] = 1;
    job.action = Action::Create;
    job.replace = true;
    job.reason = "replace: a breaking field changed once its sub-components ran";
  }
}

// Records job `j` as needing no hook: its row takes the new ids, its outputs stay.
void Scheduler::cut_off(int j, const std::string& why) {
  cut_[plan_.jobs[j].node] = 1;
  started_[j] = 1;
  ++running_;
  journal_id_[j] = 0;
  JobOutcome o;
  o.kind = JobOutcome::Cutoff;
  o.error = why;
  o.outputs = plan_.stored[plan_.jobs[j].stored].outputs;
  finish(j, std::move(o));
}

}  // namespace ochre::detail
