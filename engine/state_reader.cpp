// ochre::StateReader (ochre/state.hpp): a read-only StateStore behind the public view,
// its texts made by the same functions as `ochre state show`, `history` and `log`.
#include <algorithm>

#include "engine/inspect.hpp"
#include "engine/state.hpp"
#include "ochre/errors.hpp"
#include "ochre/state.hpp"

namespace ochre {

struct StateReader::Impl {
  std::unique_ptr<StateStore> store;
  std::vector<StoredInstance> stored;  // as the last stored() read them
  bool read = false;

  void load() {
    stored = store->load();
    read = true;
  }
  // The sensitive fields the state recorded, by type: views made without the pipeline
  // mask what its types declared when they were applied.
  Sensitive sensitive() const {
    Sensitive out;
    for (const StoredInstance& st : stored)
      for (const auto& f : st.sensitive) {
        auto& names = out[st.type];
        if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
      }
    return out;
  }
};

StateReader::StateReader(const std::string& location, const std::string& workspace)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = open_state(location, workspace.empty() ? default_workspace : workspace, OpenMode::ReadOnly);
}
StateReader::~StateReader() = default;
StateReader::StateReader(StateReader&&) noexcept = default;
StateReader& StateReader::operator=(StateReader&&) noexcept = default;

std::vector<StoredInfo> StateReader::stored() {
  impl_->load();
  std::vector<StoredInfo> out;
  out.reserve(impl_->stored.size());
  for (const StoredInstance& s : impl_->stored)
    out.push_back({s.key, s.type, s.identifier, s.uuid.str(), s.hash.str(), status_name(s.status), s.deps});
  return out;
}

std::vector<RunEntry> StateReader::runs(int limit) {
  std::vector<RunEntry> out;
  for (RunRecord& r : impl_->store->runs(limit))
    out.push_back({r.id, std::move(r.command), std::move(r.started), std::move(r.ended), std::move(r.outcome),
                   std::move(r.summary), r.pid});
  return out;
}

std::vector<JobEntry> StateReader::jobs_of_run(long long run) {
  std::vector<JobEntry> out;
  for (JobRecord& j : impl_->store->jobs_of_run(run))
    out.push_back({j.run, j.seq, std::move(j.key), std::move(j.uuid), std::move(j.action), std::move(j.started),
                   std::move(j.ended), std::move(j.outcome), std::move(j.error), std::move(j.output)});
  return out;
}

std::optional<std::string> StateReader::change_token() { return impl_->store->change_token(); }

std::string StateReader::show(const std::string& key, bool json) {
  if (!impl_->read) impl_->load();
  for (const StoredInstance& s : impl_->stored)
    if (s.key == key) return format_state_show(s, json, impl_->sensitive());
  fail(Msg::UnknownKeyInState, {key, impl_->store->location()});
}

std::string StateReader::history(const std::string& key, bool json) {
  if (!impl_->read) impl_->load();
  return format_history(impl_->store->versions(key), key, json, impl_->sensitive());
}

std::string StateReader::log(int limit, bool json) { return format_log(*impl_->store, limit, json); }

}  // namespace ochre
