// Copying a whole state between stores (SQLite <-> PostgreSQL): ochre state migrate.
#pragma once
#include <string>

namespace ochre {

struct MigrateReport {
  size_t instances = 0, roots = 0, runs = 0, jobs = 0, versions = 0;
};

// Copies the state at `from` into the empty state at `to` (both in `workspace`), holding
// both locks, then reads the copy back and compares it with the original: every instance
// (ids, fields, outputs, status), every root, and the journal's runs, jobs and versions
// in order. Throws Code::State when the target is not empty or the copy differs.
MigrateReport migrate_state(const std::string& from, const std::string& to, const std::string& workspace,
                            double lock_timeout);

}  // namespace ochre
