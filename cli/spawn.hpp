// The helper modes of the ochre binary that run hook commands (spawn.cpp, spawn_server.cpp).
#pragma once

namespace ochre::cli {

// argv: ochre __spawn CMD PARENT_PID. Returns the command's exit status.
int spawn_child_main(int argc, char** argv);
// argv: ochre __spawn-server PARENT_PID: the fork server (spawn_server.cpp).
int spawn_server_main(int argc, char** argv);

}  // namespace ochre::cli
