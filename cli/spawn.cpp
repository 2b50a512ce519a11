// `ochre __spawn CMD PARENT_PID`: how ochre runs a command so that it never outlives
// ochre. This process is the leader of the command's process group (ochre spawns it
// detached); it asks the kernel for SIGTERM when ochre dies, even by kill -9, and then
// kills the whole group, so grandchildren go too.
#include "cli/spawn.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <initializer_list>

namespace ochre::cli {

namespace {

void kill_group(int) {
  kill(0, SIGKILL);  // the whole group, this process included
  _exit(137);
}

}  // namespace

int spawn_child_main(int argc, char** argv) {
  if (argc < 4) return 127;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // ochre may have died before the line above: then nobody is left to wait for us.
  if (getppid() != static_cast<pid_t>(std::atol(argv[3]))) return 137;
  struct sigaction sa {};
  sa.sa_handler = kill_group;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) sigaction(sig, &sa, nullptr);

  pid_t child = fork();
  if (child < 0) return 127;
  if (child == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGTERM, SIGHUP, SIGINT, SIGPIPE}) sigaction(sig, &dfl, nullptr);
    execl("/bin/sh", "sh", "-c", argv[2], static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
  }
  return 128;
}

}  // namespace ochre::cli
