#!/usr/bin/env bash
# The PostgreSQL state next to SQLite, in the same run: first apply and no-op re-apply of
# N components (default 10,000) with empty hooks, in two shapes, as whole processes
# (median of RUNS runs). PostgreSQL runs in a private cluster (scripts/with-postgres.sh,
# fsync on as a real server has it); the ratio is PostgreSQL's time over SQLite's.
# Usage: tests/bench/pg.sh [path/to/ochre]    Environment: N, RUNS (default 3).
set -euo pipefail
OCHRE=$(realpath "${1:-build/ochre}")
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${OCHRE_TEST_PG:-}" ]; then
  exec env OCHRE_PG_FSYNC=on "$HERE/../../scripts/with-postgres.sh" "$0" "$OCHRE"
fi
N=${N:-10000}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

median() { sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"; }
# time_of SETUP CMD...: the median wall time of CMD over RUNS runs, SETUP before each.
time_of() {
  local setup=$1; shift
  for _ in $(seq "$RUNS"); do
    eval "$setup"
    local t0 t1; t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
  done | median
}
psql_q() { psql -qAt "$OCHRE_TEST_PG" -c "$1" >/dev/null; }

printf '%-34s %10s %12s %8s\n' "measure (N=$N)" "SQLite s" "PostgreSQL s" "ratio"
for shape in leaves groups; do
  luajit "$HERE/gen.lua" "$shape" "$N" > "$shape.lua"
  pg="$OCHRE_TEST_PG?schema=bench_$shape"
  s_first=$(time_of 'rm -rf .ochre' "$OCHRE" run "$shape.lua")
  p_first=$(time_of "psql_q 'DROP SCHEMA IF EXISTS bench_$shape CASCADE'" "$OCHRE" run "$shape.lua" --state "$pg")
  s_noop=$(time_of ':' "$OCHRE" run "$shape.lua")
  p_noop=$(time_of ':' "$OCHRE" run "$shape.lua" --state "$pg")
  for row in "first apply, $shape|$s_first|$p_first" "no-op re-apply, $shape|$s_noop|$p_noop"; do
    IFS='|' read -r name s p <<< "$row"
    printf '%-34s %10s %12s %7sx\n' "$name" "$s" "$p" "$(awk -v a="$p" -v b="$s" 'BEGIN { printf "%.2f", a / b }')"
  done
done
