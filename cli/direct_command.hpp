// Hook commands simple enough to run without a shell, as GNU make runs its recipes: a
// command of plain words (no quote, `$`, glob, redirection, operator, ...) whose first
// word is not a builtin or keyword runs as that program, found on the command's PATH,
// with the environment /bin/sh would have given it. Saves the shell's exec (and, with
// dash, its fork) per command. Only when /bin/sh is dash, whose environment is mimicked
// here exactly (its variable table's order, PWD); the fork server (spawn_server.cpp)
// falls back to `/bin/sh -c` whenever the program does not start, so a missing program
// reads as the shell says it.
#pragma once
#include <string>
#include <vector>

namespace ochre::cli {

// Whether /bin/sh is dash (the fast path mimics dash and nothing else).
bool sh_is_dash();

// The words of `cmd` when dash would run it as one program with these arguments; false
// when it needs the shell.
bool split_simple_command(const char* cmd, std::vector<std::string>& words);

// The environment dash passes to the programs it runs, from the one it was given:
// variables with invalid names dropped, the rest in the order of dash's variable table,
// PWD always set. `pwd_slot` is PWD's index in `out`: its value depends on the directory
// the command runs in (the env's PWD if it names that directory, else getcwd), so the
// child fills it. `path` is the PATH dash searches. False when the env holds what dash
// rewrites in ways not mimicked here (IFS, OPTIND, PPID, LINENO, a PATH with %).
bool dash_environment(const std::vector<char*>& env, std::vector<char*>& out, size_t& pwd_slot,
                      const char*& env_pwd, std::string& path);

}  // namespace ochre::cli
