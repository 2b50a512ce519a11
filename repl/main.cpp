// The ochre program.
#include "repl/cli.hpp"

int main(int argc, char** argv) { return ochre::cli::main(argc, argv); }
