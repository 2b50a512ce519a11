// The helper mode of the ochre binary that runs hook commands (see spawn.cpp).
#pragma once

namespace ochre::cli {

// argv: ochre __spawn CMD PARENT_PID. Returns the command's exit status.
int spawn_child_main(int argc, char** argv);

}  // namespace ochre::cli
