#include "engine/apply.hpp"

#include "ochre/errors.hpp"

namespace ochre {

std::string ApplyReport::summary() const {
  std::string s = std::to_string(done) + " done";
  if (failed) s += ", " + std::to_string(failed) + " failed";
  if (skipped) s += ", " + std::to_string(skipped) + " skipped";
  if (pending) s += ", " + std::to_string(pending) + " pending";
  return s;
}

StoredInstance target_of(const Graph& graph, int n) {
  const Node& node = graph.node(n);
  StoredInstance s;
  s.key = node.key;
  s.type = node.type;
  s.identifier = node.identifier;
  s.uuid = node.uuid;
  s.hash = node.hash;
  s.fields = node.fields;
  for (int d : node.deps) s.deps.push_back(graph.node(d).key);
  return s;
}

ApplyReport apply_plan(const Plan& plan, const Graph& graph, StateStore& state,
                       HookRunner& runner, const RunInfo& info,
                       const std::vector<std::string>* roots, bool clear_roots,
                       const ApplyEvents& events) {
  ApplyReport report;
  report.run = state.begin_run(info);
  if (roots) state.set_roots(info.source, *roots);
  report.outcome.assign(plan.jobs.size(), JobOutcome::Done);
  for (size_t i = 0; i < plan.jobs.size(); ++i) {
    const Job& job = plan.jobs[i];
    StoredInstance target = job.node >= 0 ? target_of(graph, job.node) : plan.stored[job.stored];
    if (job.node >= 0 && job.stored >= 0) target.outputs = plan.stored[job.stored].outputs;

    std::string blocked;
    for (int d : job.deps) {
      if (report.outcome[d] == JobOutcome::Done) continue;
      blocked = plan.jobs[d].key + (report.outcome[d] == JobOutcome::Pending ? " is pending"
                                    : report.outcome[d] == JobOutcome::Failed ? " failed"
                                                                              : " was skipped");
      break;
    }
    if (!blocked.empty()) {
      JobOutcome skipped;
      skipped.kind = JobOutcome::Skipped;
      skipped.error = blocked;
      state.job_skipped(report.run, (int)i, job.action, job.key, job.uuid, blocked);
      report.outcome[i] = JobOutcome::Skipped;
      ++report.skipped;
      if (events.finished) events.finished((int)i, job, skipped);
      continue;
    }

    if (events.started) events.started((int)i, job);
    long long id = state.job_started(report.run, (int)i, job.action, target);
    JobOutcome outcome = runner.run(job, plan, graph);
    state.job_finished(id, job.action, target, outcome);
    report.outcome[i] = outcome.kind;
    switch (outcome.kind) {
      case JobOutcome::Done: ++report.done; break;
      case JobOutcome::Pending: ++report.pending; break;
      default: ++report.failed; break;
    }
    if (events.finished) events.finished((int)i, job, outcome);
  }
  if (clear_roots && report.ok() && report.pending == 0) state.set_roots(info.source, {});
  state.end_run(report.run,
                report.failed || report.skipped ? "failed" : report.pending ? "pending" : "done",
                report.summary());
  return report;
}

}  // namespace ochre
