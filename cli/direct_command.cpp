// See direct_command.hpp.
#include "cli/direct_command.hpp"

#include <limits.h>
#include <stdlib.h>

#include <cstring>

namespace ochre::cli {

bool sh_is_dash() {
  char real[PATH_MAX];
  if (!realpath("/bin/sh", real)) return false;
  const char* base = std::strrchr(real, '/');
  return std::strcmp(base ? base + 1 : real, "dash") == 0;
}

namespace {

// Builtins and reserved words (dash's, with bash's for good measure): each behaves in
// the shell otherwise than a program of that name, or is no program at all.
const char* const kShellWords[] = {
    ".", ":", "[", "[[", "]]", "!", "{", "}", "alias", "bg", "bind", "break", "builtin", "caller", "case", "cd",
    "chdir", "command", "compgen", "complete", "continue", "declare", "dirs", "disown", "do", "done", "echo", "elif",
    "else", "enable", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for", "function",
    "getopts", "hash", "help", "history", "if", "in", "jobs", "kill", "let", "local", "logout", "mapfile", "popd",
    "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "select", "set", "shift", "shopt",
    "source", "suspend", "test", "then", "time", "times", "trap", "true", "type", "typeset", "ulimit", "umask",
    "unalias", "unset", "until", "wait", "while"};

bool plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("_-./,:+%@=", c) != nullptr;
}

// dash's hash of a variable name (var.c: hashvar), over its 39 buckets.
unsigned bucket(const char* name) {
  unsigned h = static_cast<unsigned char>(*name) << 4;
  for (const char* p = name; *p && *p != '='; ++p) h += static_cast<unsigned char>(*p);
  return h % 39;
}

// Length of the name at the start of `s` when `s` is NAME=VALUE with a valid name; else 0.
size_t name_length(const char* s) {
  const char* p = s;
  if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) return 0;
  while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') ++p;
  return *p == '=' ? static_cast<size_t>(p - s) : 0;
}

}  // namespace

bool split_simple_command(const char* cmd, std::vector<std::string>& words) {
  words.clear();
  std::string word;
  for (const char* p = cmd;; ++p) {
    if (*p == ' ' || *p == '\t' || *p == '\0') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      if (*p == '\0') break;
      continue;
    }
    if (!plain(static_cast<unsigned char>(*p))) return false;
    if (*p == '=' && words.empty()) return false;  // an assignment
    word.push_back(*p);
  }
  if (words.empty()) return false;
  // `true` and `false` alone do as the programs do (an exit code, nothing else).
  if (words.size() == 1 && (words[0] == "true" || words[0] == "false")) return true;
  for (const char* w : kShellWords)
    if (words[0] == w) return false;
  return true;
}

bool dash_environment(const std::vector<char*>& env, std::vector<char*>& out, size_t& pwd_slot,
                      const char*& env_pwd, std::string& path) {
  // dash's variable table: each bucket lists its variables in the order they were made,
  // its own first (these, unexported unless the environment sets them), then the
  // environment's, then PWD. Exported variables leave in bucket order.
  struct Var {
    const char* name;
    size_t len;
    char* entry;  // NAME=VALUE when exported
  };
  static const char* const kOwn[] = {"IFS", "MAIL", "MAILPATH", "PATH", "PS1", "PS2", "PS4", "OPTIND", "LINENO"};
  std::vector<Var> buckets[39];
  auto find = [&](const char* name, size_t len) -> Var* {
    for (Var& v : buckets[bucket(name)])
      if (v.len == len && std::strncmp(v.name, name, len) == 0) return &v;
    return nullptr;
  };
  for (const char* n : kOwn) buckets[bucket(n)].push_back({n, std::strlen(n), nullptr});
  for (char* e : env) {
    size_t len = name_length(e);
    if (len == 0) continue;
    for (const char* rewritten : {"IFS", "OPTIND", "PPID", "LINENO"})
      if (len == std::strlen(rewritten) && std::strncmp(e, rewritten, len) == 0) return false;
    if (Var* v = find(e, len)) v->entry = e;
    else buckets[bucket(e)].push_back({e, len, e});
  }
  Var* pwd = find("PWD", 3);
  env_pwd = pwd ? pwd->entry + 4 : nullptr;
  if (!pwd) buckets[bucket("PWD")].push_back({"PWD", 3, nullptr});
  Var* p = find("PATH", 4);
  path = p->entry ? p->entry + 5 : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  if (path.find('%') != std::string::npos) return false;

  out.clear();
  pwd_slot = 0;
  for (auto& b : buckets)
    for (Var& v : b) {
      if (v.len == 3 && std::strncmp(v.name, "PWD", 3) == 0) {
        pwd_slot = out.size();
        out.push_back(v.entry);  // the child decides
      } else if (v.entry) {
        out.push_back(v.entry);
      }
    }
  out.push_back(nullptr);
  return true;
}

}  // namespace ochre::cli
