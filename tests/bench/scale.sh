#!/usr/bin/env bash
# Speed at scale: pipelines of N components in four shapes, each twice: types whose
# hooks are Lua functions (as users write them; "shape/lua") and types without hooks
# (the engine alone), measured as whole processes (median of RUNS runs, peak RSS), next
# to ninja and GNU make doing the same number of targets in the same run, and the Lua
# hooks next to no hooks. Then a million components (10,000 groups of 100, Lua hooks).
# Usage: tests/bench/scale.sh [path/to/ochre]
# Environment: SIZES (default "1000 10000 100000"), RUNS (default 3), PEER_FIRST_MAX
# (default 10000: the peers' first build, a process per target, is timed once, and only
# up to this size: 100,000 processes take minutes on a small virtual machine), MILLION
# (default 1: the million components; 0 leaves them out), MILLION_RUNS (default 3: runs
# of each million-component figure, the median reported; a single run on a busy virtual
# machine is off by a quarter either way).
set -euo pipefail
OCHRE=$(realpath "${1:-build/ochre}")
HERE=$(cd "$(dirname "$0")" && pwd)
SIZES=${SIZES:-"1000 10000 100000"}
RUNS=${RUNS:-3}
PEER_FIRST_MAX=${PEER_FIRST_MAX:-10000}
MILLION=${MILLION:-1}
MILLION_RUNS=${MILLION_RUNS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
command -v ninja >/dev/null || { echo "needs ninja (apt-get install ninja-build)"; exit 2; }

# measure CMD...: runs $SETUP then CMD, RUNS times; prints "median_wall max_rss_mb", or
# "crashed -" when CMD died of a signal (ninja and make overflow their stack on a chain
# of 100,000), or "failed -" when it exited with an error.
measure() {
  local walls=() rss=0
  for _ in $(seq "$RUNS"); do
    eval "$SETUP"
    local t0 t1 rc=0
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$WORK/t" "$@" >/dev/null 2>&1 || rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" -ne 0 ]; then
      if grep -q "signal" "$WORK/t"; then echo "crashed -"; else echo "failed -"; fi
      return
    fi
    walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    local m; m=$(awk 'END {print $1}' "$WORK/t")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p") $((rss / 1024))"
}

# Each figure by "shape|measure|N" (and the peers' by "shape|measure|N|peer"), for the
# growth table at the end.
declare -A FIG
record() {  # name value [peer]
  [[ "$2" =~ ^[0-9.]+$ ]] || return 0
  [[ "$1" =~ ^([a-z/]+)\ ([0-9]+):\ (.*)$ ]] || return 0
  local k="${BASH_REMATCH[1]}|${BASH_REMATCH[3]}|${BASH_REMATCH[2]}"
  FIG["$k${3:+|$3}"]=$2
}

row() {  # name ochre_s rss_mb peer peer_s
  local ratio="-"
  if [ -n "$1" ]; then LASTNAME=$1; record "$1" "$2"; fi
  [ "$4" != "-" ] && record "$LASTNAME" "$5" "$4"
  if [ -z "$2" ]; then printf '%-40s %8s %10s   %-7s %8s %8s\n' "" "" "" "$4" "$5" "$(awk -v a="$LAST" -v b="$5" 'BEGIN { if (b ~ /^[0-9.]+$/ && b > 0) printf "%.2fx", a / b; else print "-" }')"; return; fi
  LAST=$2
  [[ "$5" =~ ^[0-9.]+$ ]] && ratio=$(awk -v a="$2" -v b="$5" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
  printf '%-40s %8s %7s MB   %-7s %8s %8s\n' "$1" "$2" "$3" "$4" "$5" "$ratio"
}

# The peers get the same graph as each pipeline: one `touch` target per component,
# depending on its sub-components' targets (gen.lua SHAPE N ninja|make). A first build is
# one process per target for them, so it is measured once per size, on the leaves, and
# only up to PEER_FIRST_MAX.

printf '%-40s %8s %10s   %-7s %8s %8s\n' "measure" "ochre s" "peak RSS" "peer" "peer s" "ratio"
for n in $SIZES; do
  d="$WORK/$n"
  mkdir -p "$d" && cd "$d"
  luajit "$HERE/gen.lua" leaves "$n" ninja > leaves.ninja
  luajit "$HERE/gen.lua" leaves "$n" make > leaves.mk
  nf=- mf=-
  if [ "$n" -le "$PEER_FIRST_MAX" ]; then
    SETUP='rm -rf out .ninja_log'; read -r nf _ < <(RUNS=1 measure ninja -j2 -f leaves.ninja)
    SETUP='rm -rf out'; read -r mf _ < <(RUNS=1 measure make -s -j2 -f leaves.mk)
  fi
  for shape in leaves groups chain dag; do
    luajit "$HERE/gen.lua" "$shape" "$n" ninja > "$shape.ninja"
    luajit "$HERE/gen.lua" "$shape" "$n" make > "$shape.mk"
    # The state a build leaves, made without a process per target: every output touched
    # at one time, and the log ninja would have written (ninja checks it says "no work").
    rm -rf out .ninja_log && mkdir out
    luajit "$HERE/gen.lua" "$shape" "$n" ninjalog 1700000000000000000 > .ninja_log
    grep -o '^build out/[^:]*' "$shape.ninja" | cut -c7- | xargs touch -d @1700000000
    ninja -n -f "$shape.ninja" | grep -q "no work to do" || echo "warning: ninja -n on $shape does not say 'no work to do'" >&2
    SETUP=':'; read -r nn _ < <(measure ninja -j2 -f "$shape.ninja")
    read -r mn _ < <(measure make -s -j2 -f "$shape.mk")
    for hooks in none lua; do
      name=$shape p=$shape
      if [ "$hooks" = lua ]; then name="$shape/lua" p="$shape-lua"; fi
      luajit "$HERE/gen.lua" "$shape" "$n" $([ "$hooks" = lua ] && echo hooks) > "$p.lua"
      luajit "$HERE/gen.lua" "$shape" "$n" changed $([ "$hooks" = lua ] && echo hooks) > "$p-changed.lua"
      SETUP='rm -rf .ochre'
      read -r first rss < <(measure "$OCHRE" run "$p.lua")
      row "$name $n: first apply" "$first" "$rss" "ninja" "$nf"
      row "" "" "" "make" "$mf"
      [ "$hooks" = lua ] && row "" "" "" "no hooks" "${FIG["$shape|first apply|$n"]:--}"
      SETUP=':'
      read -r noop rss < <(measure "$OCHRE" run "$p.lua")
      row "$name $n: no-op" "$noop" "$rss" "ninja" "$nn"
      row "" "" "" "make" "$mn"
      [ "$hooks" = lua ] && row "" "" "" "no hooks" "${FIG["$shape|no-op|$n"]:--}"
      if [ "$shape" = chain ] || [ "$shape" = groups ]; then
        SETUP="rm -rf .ochre; $OCHRE run $p.lua >/dev/null"
        read -r ch rss < <(measure "$OCHRE" run "$p-changed.lua" --state .ochre/state.db)
        row "$name $n: one leaf changed" "$ch" "$rss" "-" "-"
        [ "$hooks" = lua ] && row "" "" "" "no hooks" "${FIG["$shape|one leaf changed|$n"]:--}"
      fi
      SETUP="rm -rf .ochre; $OCHRE run $p.lua >/dev/null"
      read -r de rss < <(measure "$OCHRE" destroy "$p.lua")
      row "$name $n: destroy" "$de" "$rss" "-" "-"
      [ "$hooks" = lua ] && row "" "" "" "no hooks" "${FIG["$shape|destroy|$n"]:--}"
    done
  done
done

# A million components, Lua hooks: 10,000 groups of 100, MILLION_RUNS times each, with
# ninja's no-op on the same graph from a written log.
if [ "$MILLION" = 1 ]; then
  n=1000000
  d="$WORK/$n"
  mkdir -p "$d" && cd "$d"
  luajit "$HERE/gen.lua" groups "$n" hooks > groups-lua.lua
  luajit "$HERE/gen.lua" groups "$n" ninja > groups.ninja
  rm -rf out .ninja_log && mkdir out
  luajit "$HERE/gen.lua" groups "$n" ninjalog 1700000000000000000 > .ninja_log
  grep -o '^build out/[^:]*' groups.ninja | cut -c7- | xargs touch -d @1700000000
  SETUP=':'; read -r nn _ < <(RUNS="$MILLION_RUNS" measure ninja -j2 -f groups.ninja)
  SETUP='rm -rf .ochre'
  read -r first rss < <(RUNS="$MILLION_RUNS" measure "$OCHRE" run groups-lua.lua)
  row "groups/lua $n: first apply" "$first" "$rss" "-" "-"
  SETUP=':'
  read -r noop rss < <(RUNS="$MILLION_RUNS" measure "$OCHRE" run groups-lua.lua)
  row "groups/lua $n: no-op" "$noop" "$rss" "ninja" "$nn"
  rm -rf out .ninja_log .ochre
  SIZES="$SIZES $n"
fi

# per_run CMD...: seconds a run of CMD takes, from 100 runs in a row (no timing program
# started around each run: that alone costs milliseconds); the median of 5 such rounds.
per_run() {
  local walls=()
  for _ in 1 2 3 4 5; do
    local t0 t1
    t0=$(date +%s.%N)
    for _ in $(seq 100); do "$@" >/dev/null 2>&1; done
    t1=$(date +%s.%N)
    walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 100 }')")
  done
  printf '%s\n' "${walls[@]}" | sort -g | sed -n 3p
}

mkdir -p "$WORK/one" && cd "$WORK/one"
printf 'local ochre = require "ochre"\nreturn ochre.Component "x"\n' > one.lua
"$OCHRE" run one.lua >/dev/null
SETUP=':'; RUNS=1
read -r _ rss < <(measure "$OCHRE" run one.lua)
st=$(per_run "$OCHRE" run one.lua)
printf 'rule t\n  command = touch $out\nbuild one: t\n' > build.ninja
ninja >/dev/null  # built once: what is measured is its no-op
ns=$(per_run ninja)
row "startup: one-component no-op, per run" "$st" "$rss" "ninja" "$ns"

# Growth: each figure at the largest size over the same figure at the size before it
# (linear in N is a ratio near the sizes' ratio; the peers' next to ochre's).
read -r -a sizes <<< "$SIZES"
if [ "${#sizes[@]}" -ge 2 ]; then
  small=${sizes[-2]} big=${sizes[-1]}
  echo
  g() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", b / a; else print "-" }'; }
  printf '%-40s %8s %8s %8s\n' "growth, $small to $big" "ochre" "ninja" "make"
  for shape in leaves leaves/lua groups groups/lua chain chain/lua dag dag/lua; do
    for m in "first apply" "no-op" "one leaf changed" "destroy"; do
      a=${FIG["$shape|$m|$small"]:-} b=${FIG["$shape|$m|$big"]:-}
      [ -n "$a" ] && [ -n "$b" ] || continue
      printf '%-40s %8s %8s %8s\n' "$shape: $m" "$(g "$a" "$b")" \
        "$(g "${FIG["$shape|$m|$small|ninja"]:-0}" "${FIG["$shape|$m|$big|ninja"]:-0}")" \
        "$(g "${FIG["$shape|$m|$small|make"]:-0}" "${FIG["$shape|$m|$big|make"]:-0}")"
    done
  done
fi
