// ochre-spawn: the helpers `ochre __spawn` and `ochre __spawn-server` are (spawn.cpp,
// spawn_server.cpp), as a program of its own that loads none of ochre's libraries, so it
// starts a few milliseconds sooner. ochre uses it when it sits beside the ochre binary.
#include <cstring>

#include "cli/spawn.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "__spawn-server") == 0) return ochre::cli::spawn_server_main(argc, argv);
  return ochre::cli::spawn_child_main(argc, argv);
}
