#!/usr/bin/env bash
# ochre's benchmarks, each run side by side with a peer doing the same work.
# Usage: tests/bench/run.sh [path/to/ochre]   (or: make bench)
# Prints a table: median wall time of 3 runs (and CPU time), ochre's and the peer's, and
# the ratio. Timings are reported, never asserted: machines are noisy.
set -euo pipefail
OCHRE=$(realpath "${1:-build/ochre}")
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# median_of CMD...: runs CMD RUNS times ($SETUP before each) and prints the medians of
# its wall and CPU (user + system) seconds.
median_of() {
  local walls=() cpus=()
  for _ in $(seq "$RUNS"); do
    eval "$SETUP"
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >/dev/null 2>&1 || true
    walls+=("$(awk '{print $1}' "$WORK/time" | tail -1)")
    cpus+=("$(awk '{print $2 + $3}' "$WORK/time" | tail -1)")
  done
  local mid=$(( (RUNS + 1) / 2 ))
  echo "$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "${mid}p") $(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "${mid}p")"
}

row() {  # name ochre_wall ochre_cpu peer peer_wall peer_cpu
  printf '%-34s %9.3f %9.3f   %-12s %9.3f %9.3f %8.2fx\n' "$1" "$2" "$3" "$4" "$5" "$6" \
    "$(echo "$2 / $5" | bc -l)"
}

command -v bc >/dev/null || { echo "bench needs bc (apt-get install bc)"; exit 2; }
[ -x /usr/bin/time ] || { echo "bench needs /usr/bin/time (apt-get install time)"; exit 2; }

printf '%-34s %9s %9s   %-12s %9s %9s %9s\n' "benchmark" "ochre s" "cpu s" "peer" "peer s" "cpu s" "ratio"

# 64 independent jobs that each wait 0.2 s, 16 at once: ideal 0.8 s.
mkdir -p "$WORK/sleep"
cat > "$WORK/sleep/pipeline.lua" <<'LUA'
local ochre = require "ochre"
local Sleep = ochre.component "Sleep" {
  fields = { n = 0 },
  create = function(self) ochre.sh("sleep 0.2") end,
}
local all = {}
for i = 1, 64 do all[i] = Sleep("s" .. i) { n = i } end
return all
LUA
{
  printf 'all:'; for i in $(seq 64); do printf ' s%d' "$i"; done; printf '\n'
  for i in $(seq 64); do printf 's%d:\n\tsleep 0.2\n' "$i"; done
  printf '.PHONY: all'; for i in $(seq 64); do printf ' s%d' "$i"; done; printf '\n'
} > "$WORK/sleep/Makefile"
cd "$WORK/sleep"
SETUP='rm -rf .ochre'
read -r ow oc < <(median_of "$OCHRE" run pipeline.lua -j 16)
SETUP=':'
read -r mw mc < <(median_of make -s -j16 -f Makefile all)
row "64 x sleep 0.2, -j 16" "$ow" "$oc" "make -j16" "$mw" "$mc"

# A process per job: 10,000 hooks that each run `ochre.sh("true")`, 16 at once, next to
# make running 10,000 `true` recipes.
mkdir -p "$WORK/true" && cd "$WORK/true"
cat > pipeline.lua <<'LUA'
local ochre = require "ochre"
local True = ochre.component "True" {
  fields = { n = 0 },
  create = function(self) ochre.sh("true") end,
}
local all = {}
for i = 1, 10000 do all[i] = True("t" .. i) { n = i } end
return all
LUA
{
  printf 'all:'; for i in $(seq 10000); do printf ' t%d' "$i"; done; printf '\n'
  for i in $(seq 10000); do printf 't%d:\n\ttrue\n' "$i"; done
  printf '.PHONY: all'; for i in $(seq 10000); do printf ' t%d' "$i"; done; printf '\n'
} > Makefile
SETUP='rm -rf .ochre'
read -r ow oc < <(median_of "$OCHRE" run pipeline.lua -j 16)
SETUP=':'
read -r mw mc < <(median_of make -s -j16 -f Makefile all)
row "10,000 x ochre.sh(\"true\"), -j 16" "$ow" "$oc" "make -j16" "$mw" "$mc"

# An idle wait costs no CPU: one job waiting 1 s.
mkdir -p "$WORK/idle" && cd "$WORK/idle"
cat > pipeline.lua <<'LUA'
local ochre = require "ochre"
return ochre.component "Wait" { create = function() ochre.sleep(1) end } "w"
LUA
printf 'all:\n\tsleep 1\n' > Makefile
SETUP='rm -rf .ochre'
read -r ow oc < <(median_of "$OCHRE" run pipeline.lua)
SETUP=':'
read -r mw mc < <(median_of make -s -f Makefile all)
row "one 1 s wait (idle CPU)" "$ow" "$oc" "make" "$mw" "$mc"
