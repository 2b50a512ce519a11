// The ochre program.
#include <cstring>

#include "cli/cli.hpp"
#include "cli/spawn.hpp"

#ifdef OCHRE_JEMALLOC
// jemalloc reads this when it starts. A large pipeline's graph, state and Lua tables
// take hundreds of megabytes that are written once: backed by transparent huge pages
// they fault in 2 MB at a time instead of 4 KB (a 100,000-component no-op: 58,000
// page faults -> 5,000, about a third of its time on a virtual machine). One arena: the
// state's read-ahead thread would otherwise make a second one at every start (0.5 ms or
// more of a 4 ms start); the 100,000-leaf no-op and first apply are as fast, in 3% less
// memory.
extern "C" {
const char* malloc_conf = "thp:always,metadata_thp:auto,narenas:1";
}
#endif

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "__spawn") == 0) return ochre::cli::spawn_child_main(argc, argv);
  if (argc > 1 && std::strcmp(argv[1], "__spawn-server") == 0) return ochre::cli::spawn_server_main(argc, argv);
  return ochre::cli::main(argc, argv);
}
