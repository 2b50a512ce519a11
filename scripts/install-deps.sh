#!/bin/sh
set -e
# Installs the Debian packages ochre builds with, when any is missing; with --fuzz also
# what the libFuzzer targets need (clang and its runtime libraries; make fuzz).
PACKAGES="cmake make g++ pkg-config libluajit-5.1-dev libsqlite3-dev libpq-dev catch2 libssl-dev libuv1-dev libedit-dev nlohmann-json3-dev libcpp-httplib-dev bc time sqlite3 luajit"
[ "${1:-}" = "--fuzz" ] && PACKAGES="$PACKAGES clang libclang-rt-dev"
# The PostgreSQL server, for the tests and benchmarks of the PostgreSQL state.
[ "${1:-}" = "--postgres" ] && PACKAGES="$PACKAGES postgresql"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
