// `ochre watch` (see watch.cpp).
#pragma once
#include <string>

#include "cli/cron.hpp"
#include "ochre/ochre.hpp"

namespace ochre::cli {

// Seconds in "30s", "5m", "1h", "500ms" or "12"; throws a usage error otherwise.
double parse_duration(const std::string& text);
// Fails (exit 2) when `file` is a FIFO: it gives its text once, and `ochre COMMAND`
// reads the pipeline more than once ("cannot VERB a FIFO").
void refuse_fifo(const std::string& file, const char* verb, const char* command);
// Applies FILE, then again on every change to what it watches (and every `every_seconds`
// when > 0), until SIGINT or SIGTERM. Returns the exit status.
// With `cron`, also at each time the schedule names.
int run_watch(const std::string& file, const Options& options, double every_seconds, const Cron* cron = nullptr);

}  // namespace ochre::cli
