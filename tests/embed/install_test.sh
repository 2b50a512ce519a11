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

cmake -S "$src/tests/embed/consumer" -B "$work/cmake-consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-consumer" >/dev/null
LD_LIBRARY_PATH="$lib" "$work/cmake-consumer/consumer" "$work/a.db" | grep -q "Component/sub/009bfeff53633822.create"

PKG_CONFIG_PATH="$lib/pkgconfig" c++ -std=c++20 "$src/tests/embed/consumer/main.cpp" -o "$work/pc-consumer" \
  $(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags --libs ochre)
LD_LIBRARY_PATH="$lib" "$work/pc-consumer" "$work/b.db" | grep -q "1 done"

# The installed Lua module loads in plain LuaJIT.
LUA_CPATH="$lib/lua/5.1/?.so" luajit -e 'local o = require "ochre"; assert(o.component)'
echo "install test: find_package, pkg-config and the Lua module all work"
