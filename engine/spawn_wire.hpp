// The fork server's wire format, shared by its client (engine/spawner.cpp) and the
// server (cli/spawn_server.cpp). Both ends are the same build on the same machine, so
// integers travel in the machine's order.
//
// Requests, ochre -> server, on the request socket (the server's fd 3): a RequestHead
// carrying as SCM_RIGHTS the command's stdout and stderr, then its stdin when kStdin is
// set, then its directory (an O_PATH fd) when kDir is set; then `size` bytes: the
// command, then each NAME=VALUE of its environment, every one ended by a NUL. ochre
// checks beforehand what would make the command fail to start, and never waits for an
// answer: the requests it sends in a row go out together.
//
// A kill, ochre -> server: a RequestHead with kKill whose `size` is the pid of a command
// ochre kills; the server kills its group, and notes that it was ochre's doing.
//
// Events, server -> ochre, on the event socket (the server's fd 4): one kStarted per
// request, in the order of the requests, as soon as it forked (its pid, or -errno); one
// kExited per command, always after its kStarted.
#pragma once
#include <cstdint>

namespace ochre::spawn_wire {

constexpr int kRequestFd = 3;
constexpr int kEventFd = 4;
constexpr uint32_t kStdin = 1;
constexpr uint32_t kDir = 2;
constexpr uint32_t kKill = 4;  // no fds, no strings: `size` is the pid of a command ochre kills

struct RequestHead {
  uint32_t size;   // bytes of strings that follow
  uint32_t flags;  // kStdin, kDir
};

constexpr int32_t kStarted = 1;
constexpr int32_t kExited = 2;

struct Event {
  int32_t kind;    // kStarted, kExited
  int32_t pid;     // the command's pid (its process group and session, once it runs), or -errno
  int32_t status;  // kExited: as waitpid reports it
};

}  // namespace ochre::spawn_wire
