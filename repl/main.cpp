// The ochre program.
#include <cstring>

#include "repl/cli.hpp"
#include "repl/spawn.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "__spawn") == 0) return ochre::cli::spawn_child_main(argc, argv);
  return ochre::cli::main(argc, argv);
}
