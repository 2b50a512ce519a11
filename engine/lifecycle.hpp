// How an instance's jobs are run, as its type's `lifecycle = { ... }` and
// `ochre.lifecycle(instance, { ... })` say. Never hashed: changing it plans nothing.
#pragma once
#include <string>

namespace ochre {

struct Retry {
  int attempts = 1;     // in all, the first one included
  double delay = 0;     // seconds before the second attempt
  double backoff = 1;   // each later wait is the previous one times this
};

struct Lifecycle {
  bool protect = false;  // refuse a plan that would delete or replace the instance
  Retry retry;
  std::string pool;      // at most settings.pools[pool] of its jobs at once; empty: none
  double timeout = 0;    // seconds a hook may take; 0: the run's default (none unless set)
};

}  // namespace ochre
