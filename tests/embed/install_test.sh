#!/bin/sh
# Installs ochre into a temporary prefix, then builds and runs a separate consumer with
# find_package(ochre) and another with pkg-config. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/ochre"
test -f "$work/prefix/include/ochre/ochre.hpp"
test -f "$work/prefix/include/ochre/ochre.h"
lib=$(ls -d "$work"/prefix/lib*/ | head -1)
test -f "$lib/libochre.a"
test -f "$lib/pkgconfig/ochre.pc"
test -f "$lib/ochre/ochre-http.so"
# For people: the man page, the shell completions, the LuaLS definitions.
test -f "$work/prefix/share/man/man1/ochre.1"
test -f "$work/prefix/share/bash-completion/completions/ochre"
test -f "$work/prefix/share/zsh/site-functions/_ochre"
test -f "$work/prefix/share/ochre/ochre.d.lua"
grep -q '^.TH OCHRE 1' "$work/prefix/share/man/man1/ochre.1"
if command -v man >/dev/null && man -l "$work/prefix/share/man/man1/ochre.1" 2>&1 >/dev/null | grep -q .; then
  echo "install test: the man page has warnings:" >&2; man -l "$work/prefix/share/man/man1/ochre.1" >/dev/null; exit 1
fi
# The installed bash completion completes the installed program's commands.
PATH="$work/prefix/bin:$PATH" bash -c '. "$1"; COMP_WORDS=(ochre pl); COMP_CWORD=1; _ochre; [ "${COMPREPLY[*]}" = plan ]' \
  sh "$work/prefix/share/bash-completion/completions/ochre" ||
  { echo "install test: bash completion of 'ochre pl' is not 'plan'" >&2; exit 1; }

# The installed program finds its HTTP module: serving fails on the port, not on a
# missing module.
if "$work/prefix/bin/ochre" serve --host 192.0.2.1 --state "$work/s.db" 2> "$work/serve.err"; then
  echo "install test: serve on an address this machine lacks succeeded" >&2; exit 1
fi
grep -q "no such address on this machine" "$work/serve.err" ||
  { echo "install test: the installed ochre could not serve:" >&2; cat "$work/serve.err" >&2; exit 1; }

cmake -S "$src/tests/embed/consumer" -B "$work/cmake-consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-consumer" >/dev/null
LD_LIBRARY_PATH="$lib" "$work/cmake-consumer/consumer" "$work/a.db" | grep -q "Component/sub/009bfeff53633822.create"

PKG_CONFIG_PATH="$lib/pkgconfig" c++ -std=c++20 "$src/tests/embed/consumer/main.cpp" -o "$work/pc-consumer" \
  $(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags --libs ochre)
LD_LIBRARY_PATH="$lib" "$work/pc-consumer" "$work/b.db" | grep -q "1 done"

# The installed Lua module loads in plain LuaJIT.
LUA_CPATH="$lib/lua/5.1/?.so" luajit -e 'local o = require "ochre"; assert(o.component)'
echo "install test: find_package, pkg-config and the Lua module all work"
