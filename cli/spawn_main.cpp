// ochre-spawn: the helper `ochre __spawn` is (spawn.cpp), as a program of its own that
// loads none of ochre's libraries, so a hook's command starts a few milliseconds sooner.
// ochre uses it when it sits beside the ochre binary.
#include "cli/spawn.hpp"

int main(int argc, char** argv) { return ochre::cli::spawn_child_main(argc, argv); }
