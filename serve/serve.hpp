// `ochre serve [FILE] [--port 8080] [--host 127.0.0.1] [--allow-apply]`: a web page on the
// pipeline's graph, plan, runs and components, updated live while another ochre applies.
#pragma once
#include <string>

#include "ochre/ochre.hpp"

namespace ochre::cli {

struct ServeOptions {
  std::string file;              // the pipeline; empty: the state alone
  std::string host = "127.0.0.1";
  int port = 8080;               // 0: any free port
  bool allow_apply = false;      // the page may apply the pipeline
};

// Serves until SIGINT or SIGTERM; returns the exit status (0). A bad pipeline or an
// address that cannot be listened on throws Error (exit 2).
int run_serve(const ServeOptions& serve, const Options& options);

}  // namespace ochre::cli
