#!/usr/bin/env bash
# kill -9 torture (issue 22). Rounds of four phases on 40 instances — create, update,
# replace (a breaking field: a delete job, then a create), destroy — run with --timeout 1
# and -j 4. Some hooks time out on their first attempt in a phase (w10 w20 w30 w40): w20
# and w40 have a lifecycle retry (attempts = 3, delay = 0: tried again in the same run),
# the others are tried again by the next run. Each ochre run is killed with SIGKILL while
# hooks are in flight: before it starts, the script picks the K-th hook the run will
# call (K in 1..6) and where in it to kill —
#   before  the hook was called but wrote nothing yet (it waits on the loop),
#   mid     between the hook's start and end lines (it waits on the loop),
#   after   the hook wrote its end line and returned (racing the commit of its outcome),
#   retry   (half of the phases' first runs) mid-hook in the second attempt of a hook
#           whose first attempt timed out;
# that hook signals it reached the point (a file), and the script kills at once. A run
# that ends before its K-th hook is not counted as a kill. After POINTS/8 kills, or once a
# run ended by itself, one uninterrupted run (or up to three, for timeouts without a
# retry) finishes the phase. Rounds go on until POINTS kills landed.
#
# The hooks append "start PID KEY ACTION PHASE" and "end PID KEY ACTION PHASE T_US" to a
# ledger; the journal says which ochre process (runs.pid) recorded each job done. Per
# phase and job it counts:
#   lost        no done row for the job once the phase was finished
#   unfinished  recorded done by a process in which its hook never wrote its end line
#   double      its hook started again in a process launched after the one that recorded
#               it done, or it was recorded done twice, or a hook that ended more than a
#               second before the kill had not been committed (the promise: 10 ms)
#   integrity   PRAGMA integrity_check not "ok" (SQLite), a second plan not empty, a job
#               left "running" after the finishing run, instances left after destroy
# and it prints the kills by position and by phase, the kills that landed with hooks in
# flight, the hooks started / ended / cut short, the attempts that timed out, and the
# finished hooks whose outcome was not committed yet when the kill came (they run again;
# allowed within the group-commit window) with the longest such gap.
# Exit status: 0 when lost, unfinished, double and integrity are all 0; 1 otherwise;
# 2 when it could not run.
# Usage: tests/torture/kill9.sh OCHRE_BINARY [POINTS=200] [STATE]
#   STATE: a SQLite path (default: a temporary one) or a postgres:// URL (an empty
#   database: the state is destroyed and created again each round).
# Not part of `make test` (minutes); OCHRE_TORTURE_SEED repeats a run's choices.
set -u
OCHRE=$(realpath "${1:?usage: kill9.sh OCHRE_BINARY [POINTS] [STATE]}") || exit 2
POINTS=${2:-200}
DIR=$(mktemp -d /tmp/ochre-torture-XXXXXX)
STATE=${3:-$DIR/state.db}
SEED=${OCHRE_TORTURE_SEED:-$$}
RANDOM=$SEED
trap 'rm -rf "$DIR"' EXIT
cd "$DIR" || exit 2
mkfifo tick

cat > pipeline.lua <<'LUA'
local ochre = require "ochre"
local ffi = require "ffi"
ffi.cdef [[ int getpid(void); struct kill9_ts { long s, ns; }; int clock_gettime(int, struct kill9_ts *); ]]
local ts = ffi.new("struct kill9_ts")
local function now_us()
  ffi.C.clock_gettime(0, ts)  -- CLOCK_REALTIME, as bash's $EPOCHREALTIME
  return ("%d%06d"):format(tonumber(ts.s), math.floor(tonumber(ts.ns) / 1000))
end
local PID = tostring(ffi.C.getpid())
local PHASE, DIR = os.getenv("PHASE"), os.getenv("TDIR")
local K, POS = io.open(DIR .. "/killat"):read("*n", "*l")
POS = POS and POS:match("%a+")
local called, attempts = 0, {}
local function append(line)
  local f = assert(io.open(DIR .. "/ledger", "a")) f:write(line .. "\n") f:close()
end
local function signal()
  local f = assert(io.open(DIR .. "/fired.tmp", "w")) f:write(POS .. "\n") f:close()
  assert(os.rename(DIR .. "/fired.tmp", DIR .. "/fired"))
end
local function hook(action)
  return function(self)
    called = called + 1
    local attempt = tostring(self) .. " " .. action
    attempts[attempt] = (attempts[attempt] or 0) + 1
    local fire = (POS == "retry" and attempts[attempt] == 2) or (POS ~= "retry" and called == K)
    local id = PID .. " " .. tostring(self) .. " " .. action .. " " .. PHASE
    if fire and POS == "before" then signal() ochre.sleep(0.5) end
    append("start " .. id)
    if fire and (POS == "mid" or POS == "retry") then signal() ochre.sleep(0.5) end
    local marker = DIR .. "/slow-" .. self.identifier .. "-" .. action .. "-" .. PHASE
    if self.slow and not io.open(marker) then
      io.open(marker, "w"):close()
      ochre.sleep(5)  -- past --timeout: this attempt fails; a retry or the next run goes on
    end
    ochre.sleep(0.002 * (#self.identifier % 3))
    append("end " .. id .. " " .. now_us())
    if fire and POS == "after" then signal() end
  end
end
local W = ochre.component "W" {
  breaks = { "b" },
  fields = { v = 0, b = 0, slow = false },
  create = hook("create"), update = hook("update"), delete = hook("delete"),
}
local V, B = tonumber(os.getenv("V")), tonumber(os.getenv("B"))
local all = {}
for i = 1, 40 do
  all[i] = W("w" .. i) { v = V, b = B, slow = i % 10 == 0 }
  if i % 4 == 0 then all[i] = ochre.lifecycle(all[i], { retry = { attempts = 3, delay = 0 } }) end
end
return all
LUA

export TDIR=$DIR
PG=; [[ $STATE == postgres* ]] && PG=1
query() {
  if [[ $PG ]]; then PGOPTIONS=--search_path=ochre psql -qAt -F ' ' "$STATE" -c "$1"
  else sqlite3 -separator ' ' "$STATE" "$1"; fi
}
text() { if [[ $PG ]]; then echo "convert_from($1, 'UTF8')"; else echo "$1"; fi; }

seq=0
: > launches ledger
# Starts ochre in the background ($! is ochre itself) and notes its launch order.
launch() {
  seq=$((seq + 1))
  OCHRE_STATE="$STATE" "$OCHRE" "$@" >"out.$seq" 2>&1 &
  pid=$!
  echo "$seq $pid" >> launches
}
finish_phase() {  # uninterrupted runs; a timeout without a retry takes one more
  echo "0 none" > killat
  for _ in 1 2 3; do
    launch "$cmd" pipeline.lua --timeout 1 -j 4
    wait "$pid" && return 0
  done
  echo "phase $PHASE: not finished after three runs:"; cat "out.$seq"
  return 1
}

NAMES=(- create update replace destroy)
POSITIONS=(before mid after)
failed_runs=0
per_phase=$(( (POINTS + 7) / 8 < 4 ? 4 : (POINTS + 7) / 8 ))  # so two rounds at least
declare -A kills_by_phase kills_by_pos
kills=0 landed_mid=0 round=0 finishing=0
lost=0 unfinished=0 double=0 integrity=0
declare -A lost_p unfinished_p double_p rerun_p
rerun=0 late=0 max_gap=0 timed_out=0
[[ $PG ]] || rm -f "$STATE"
while (( kills < POINTS )); do
  round=$((round + 1))
  for phase in 1 2 3 4; do
    name=${NAMES[$phase]}
    export PHASE="$round.$phase" V=$(( phase == 1 ? 1 : 2 )) B=$(( phase >= 3 ? round * 10 + 1 : round * 10 ))
    cmd=run; [[ $phase == 4 ]] && cmd=destroy
    first_run=$(( $(query "SELECT coalesce(max(id), 0) FROM runs" 2>/dev/null || echo 0) + 1 ))
    first_seq=$((seq + 1))
    phase_kills=0
    while (( kills < POINTS && phase_kills < per_phase )); do
      pos=${POSITIONS[RANDOM % 3]}
      # A phase's first run, every other time: killed inside the second attempt of a hook
      # that timed out (w20 or w40, which have a lifecycle retry).
      (( phase_kills == 0 && RANDOM % 2 == 0 )) && pos=retry
      echo "$(( RANDOM % 6 + 1 )) $pos" > killat
      rm -f fired
      launch "$cmd" pipeline.lua --timeout 1 -j 4
      while [[ ! -e fired ]] && kill -0 "$pid" 2>/dev/null; do read -rt 0.001 <>tick; done
      if [[ -e fired ]] && kill -9 "$pid" 2>/dev/null; then
        echo "$seq $pid $EPOCHREALTIME" >> killed
        kills=$((kills + 1)) phase_kills=$((phase_kills + 1))
        kills_by_phase[$name]=$(( ${kills_by_phase[$name]:-0} + 1 ))
        kills_by_pos[$pos]=$(( ${kills_by_pos[$pos]:-0} + 1 ))
        wait "$pid" 2>/dev/null
        # hooks of this process that started and never ended: in flight at the kill
        inflight=$(awk -v p="$pid" '$2 == p { n[$3 " " $4] += ($1 == "start") ? 1 : -1 } END { c = 0; for (k in n) if (n[k] > 0) c++; print c }' ledger)
        (( inflight > 0 )) && landed_mid=$((landed_mid + 1))
      else
        # It ran to its end before its K-th hook: the phase is through, or what is left
        # failed (a timeout without a retry), which the next run tries again.
        wait "$pid" 2>/dev/null && break
        failed_runs=$((failed_runs + 1))
        (( failed_runs % 4 == 0 )) && break
      fi
    done
    finish_phase || integrity=$((integrity + 1))
    finishing=$((finishing + 1))
    # Integrity of the state after the phase.
    if [[ $phase == 4 ]]; then
      n=$(query "SELECT count(*) FROM instances")
      [[ $n == 0 ]] || { integrity=$((integrity + 1)); echo "phase $PHASE: $n instances left after destroy"; }
    elif ! OCHRE_STATE="$STATE" "$OCHRE" plan pipeline.lua 2>&1 | grep -q "No changes needed"; then
      integrity=$((integrity + 1)); echo "phase $PHASE: a second plan is not empty"
    fi
    n=$(query "SELECT count(*) FROM jobs WHERE outcome = 'running'")
    [[ $n == 0 ]] || { integrity=$((integrity + 1)); echo "phase $PHASE: $n jobs left running"; }
    if [[ ! $PG ]] && [[ $(query "PRAGMA integrity_check") != ok ]]; then
      integrity=$((integrity + 1)); echo "phase $PHASE: PRAGMA integrity_check failed"
    fi
    # The phase's journal: pid outcome action key, and the attempts that timed out.
    query "SELECT r.pid, j.outcome, j.action, $(text j.key) FROM jobs j JOIN runs r ON r.id = j.run WHERE j.run >= $first_run ORDER BY j.id" > journal
    t=$(query "SELECT count(*) FROM jobs j WHERE j.run >= $first_run AND $(text j.error) LIKE '%timed out after%'")
    timed_out=$((timed_out + t))
    # Counting, from the launches, the kills, the phase's ledger lines and its journal.
    read -r l u d r g lt < <(awk -v phase="$PHASE" -v name="$name" -v first_seq="$first_seq" '
      FILENAME == "launches" { seqof[$2] = $1; next }
      FILENAME == "killed" { killat[$2] = $3; next }
      FILENAME == "journal" {
        if ($2 == "done") { if (!(($4 " " $3) in donepid)) donepid[$4 " " $3] = $1; donen[$4 " " $3]++ }
        next
      }
      $5 == phase && seqof[$2] >= first_seq {
        k = $3 " " $4
        if ($1 == "start") { starts[k] = starts[k] " " $2 }
        else { ends[k] = ends[k] " " $2; endt[k " " $2] = $6 }
      }
      END {
        lost = unfinished = dbl = rerun = late = 0; gap = 0
        actions = name == "replace" ? "delete create" : name == "destroy" ? "delete" : name
        na = split(actions, as, " ")
        for (i = 1; i <= 40; i++) for (a = 1; a <= na; a++) {
          job = "W/w" i " " as[a]
          if (donen[job] == 0) { lost++; print "lost: " job " (" phase ")" > "/dev/stderr"; continue }
          if (donen[job] > 1) { dbl++; print "double: " job " recorded done " donen[job] " times (" phase ")" > "/dev/stderr" }
          p = donepid[job]; s = seqof[p]
          # unfinished: the process that recorded it done never saw its hook end
          ok = 0; ne = split(ends[job], es, " ")
          for (e = 1; e <= ne; e++) if (es[e] == p) ok = 1
          if (!ok) { unfinished++; print "unfinished recorded done: " job " (" phase ", pid " p ")" > "/dev/stderr" }
          # double: started again by a process launched after the one that committed it
          ns = split(starts[job], ss, " ")
          for (e = 1; e <= ns; e++) if (seqof[ss[e]] > s) { dbl++; print "double run: " job " started by pid " ss[e] " after pid " p " recorded it done (" phase ")" > "/dev/stderr" }
          # ended in an earlier process, not committed before its kill: it ran again
          for (e = 1; e <= ne; e++) if (es[e] != p && seqof[es[e]] < s) {
            rerun++
            if (es[e] in killat) {
              d = killat[es[e]] - endt[job " " es[e]] / 1e6
              if (d > gap) gap = d
              if (d > 0.01) late++
              if (d > 1) { dbl++; print "double run: " job " ended " d " s before the kill of pid " es[e] " and was not committed (" phase ")" > "/dev/stderr" }
            }
          }
        }
        printf "%d %d %d %d %.6f %d\n", lost, unfinished, dbl, rerun, gap, late
      }' launches killed journal ledger)
    lost=$((lost + l)) unfinished=$((unfinished + u)) double=$((double + d)) rerun=$((rerun + r)) late=$((late + lt))
    lost_p[$name]=$(( ${lost_p[$name]:-0} + l )); unfinished_p[$name]=$(( ${unfinished_p[$name]:-0} + u ))
    double_p[$name]=$(( ${double_p[$name]:-0} + d )); rerun_p[$name]=$(( ${rerun_p[$name]:-0} + r ))
    max_gap=$(awk -v a="$max_gap" -v b="$g" 'BEGIN { print (b > a ? b : a) }')
    (( kills >= POINTS )) && break
  done
done

started=$(grep -c '^start ' ledger) ended=$(grep -c '^end ' ledger)
cut=$(awk 'FILENAME == "killed" { k[$2] = 1; next } $2 in k { n[$2 " " $3 " " $4 " " $5] += ($1 == "start") ? 1 : -1 }
           END { c = 0; for (x in n) if (n[x] > 0) c += n[x]; print c }' killed ledger)
kind=SQLite; [[ $PG ]] && kind=PostgreSQL
echo "seed $SEED, state $kind, $round rounds, $seq ochre runs ($finishing finishing ones)"
echo "kills: $kills (before a hook's first line ${kills_by_pos[before]:-0}, mid-hook ${kills_by_pos[mid]:-0}, after a hook's end ${kills_by_pos[after]:-0}, mid-hook in a retry after a timeout ${kills_by_pos[retry]:-0}); with hooks in flight: $landed_mid"
echo "hooks: $started started, $ended ended, $cut cut short by a kill; $timed_out attempts timed out"
echo "finished hooks not committed before their kill (ran again, allowed): $rerun, the longest $(awk -v g="$max_gap" 'BEGIN { printf "%.1f ms", g * 1000 }') between their end and the kill, $late of them more than the 10 ms window (the load average: $(cut -d' ' -f1 /proc/loadavg))"
for name in create update replace destroy; do
  echo "  $name: ${kills_by_phase[$name]:-0} kills; lost ${lost_p[$name]:-0}, unfinished recorded done ${unfinished_p[$name]:-0}, double runs ${double_p[$name]:-0}, ran again uncommitted ${rerun_p[$name]:-0}"
done
echo "lost $lost, unfinished recorded done $unfinished, double runs $double, integrity failures $integrity"
(( lost + unfinished + double + integrity == 0 ))
