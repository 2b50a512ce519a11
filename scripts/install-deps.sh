#!/bin/sh
set -e
# Installs the Debian packages ochre builds with, when any is missing; with --fuzz also
# what the libFuzzer targets need (clang and its runtime libraries; make fuzz); with
# --browser what the browser tests of `ochre serve` need (Chromium, and Node.js with npm
# unless a node and npm are there already; make test); with --postgres the PostgreSQL
# server (the tests and benchmarks of the PostgreSQL state); with --slurm a Slurm
# controller, node daemon, client and munge (scripts/with-slurm.sh).
PACKAGES="cmake make g++ pkg-config libluajit-5.1-dev libsqlite3-dev libpq-dev catch2 libssl-dev libuv1-dev libedit-dev libbsd-dev libmd-dev libncurses-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libjemalloc-dev bc time sqlite3 luajit"
for flag in "$@"; do
  case "$flag" in
    --fuzz) PACKAGES="$PACKAGES clang libclang-rt-dev" ;;
    --browser)
      PACKAGES="$PACKAGES chromium"
      command -v node >/dev/null && command -v npm >/dev/null || PACKAGES="$PACKAGES nodejs npm" ;;
    --postgres) PACKAGES="$PACKAGES postgresql" ;;
    --slurm) PACKAGES="$PACKAGES slurmctld slurmd slurm-client munge" ;;
    *) echo "usage: $0 [--fuzz] [--browser] [--postgres] [--slurm]" >&2; exit 2 ;;
  esac
done
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
