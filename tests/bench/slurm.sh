#!/usr/bin/env bash
# The Slurm executor next to plain Slurm: N jobs of `sleep 1` (default 200) through ochre
# at -j J (default 64), and the same N submitted with a plain sbatch loop and waited for
# (squeue every 0.1 s until none is left). Prints both wall times, their ratio (target
# <= 1.1) and ochre's CPU time per job. The cluster is a private one
# (scripts/with-slurm.sh) whose node advertises OCHRE_SLURM_CPUS CPUs (64 by default:
# as many as -j, so ochre keeps no queue at the scheduler; 32 gives it one).
# Each side runs RUNS times (default 3), alternating; the medians are printed.
# Usage: tests/bench/slurm.sh [path/to/ochre]    Environment: N, J, RUNS.
set -euo pipefail
OCHRE=$(realpath "${1:-build/ochre}")
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${SLURM_CONF:-}" ]; then
  exec "$HERE/../../scripts/with-slurm.sh" "$0" "$OCHRE"
fi
N=${N:-200}
J=${J:-64}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'; }

cat > pipeline.lua <<EOF
local ochre = require "ochre"
ochre.settings { executor = "slurm", slurm = { name = "bench-ochre" } }
local T = ochre.component "T" { create = function(self) ochre.sh_ok("sleep 1") end }
local all = {}
for i = 1, $N do all[i] = T(tostring(i)) {} end
return all
EOF

# Plain Slurm: submit all, then wait until the cluster has none of them left.
plain_run() {
  local t0
  t0=$(now)
  for i in $(seq "$N"); do sbatch --parsable -J bench-plain -o /dev/null -e /dev/null --wrap "sleep 1" >/dev/null; done
  while [ -n "$(squeue -h -n bench-plain -o %i)" ]; do sleep 0.1; done
  since "$t0"
}
# ochre on a new state each time: every job is a first create.
ochre_run() {
  local t0
  rm -f state.db*
  t0=$(now)
  /usr/bin/time -f "%U %S" -o cpu.txt "$OCHRE" run pipeline.lua -j "$J" --state state.db >out.txt 2>&1 ||
    { cat out.txt >&2; exit 1; }
  grep -q "$N done" out.txt || { cat out.txt >&2; exit 1; }
  since "$t0"
  awk -v n="$N" '{ printf "%.1f\n", ($1 + $2) * 1000 / n }' cpu.txt >> cpus.txt
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Side by side, alternating, RUNS times.
RUNS=${RUNS:-3}
: > plains.txt
: > ours.txt
: > cpus.txt
for r in $(seq "$RUNS"); do
  plain_run >> plains.txt
  ochre_run >> ours.txt
done
plain=$(median < plains.txt)
ours=$(median < ours.txt)
cpu=$(median < cpus.txt)

printf '%-40s %8s\n' "$N x sleep 1 (node: ${OCHRE_SLURM_CPUS:-64} CPUs)" "wall s"
printf '%-40s %8s   (runs: %s)\n' "plain sbatch loop + wait" "$plain" "$(paste -sd' ' plains.txt)"
printf '%-40s %8s   (runs: %s)\n' "ochre run -j $J --executor slurm" "$ours" "$(paste -sd' ' ours.txt)"
printf '%-40s %7sx\n' "ratio of medians (target <= 1.1)" "$(awk -v a="$ours" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')"
printf '%-40s %6s ms\n' "ochre CPU per job (user + sys, median)" "$cpu"
