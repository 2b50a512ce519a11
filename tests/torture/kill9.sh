#!/usr/bin/env bash
# kill -9 torture (issue 22): ochre runs are killed at random points through four phases —
# create, update, replace (a breaking field), destroy — with a --timeout in force and
# hooks that time out on their first attempt, until POINTS kills landed; after each phase
# one uninterrupted run finishes it. Then it counts, from a ledger the hooks append to
# and from the journal:
#   lost        a job of the phase never recorded done (its instance not as planned)
#   unfinished  a job recorded done whose hook never reached its end in the ledger
#   double      a hook that reached its end and ran again for the same phase
#   integrity   PRAGMA integrity_check not "ok" (SQLite) or a second plan not empty
# Usage: tests/torture/kill9.sh OCHRE_BINARY [POINTS=200] [STATE]
#   STATE: a SQLite path (default: a temporary one) or a postgres:// URL.
# Not part of `make test` (minutes); OCHRE_TORTURE_SEED repeats a run.
set -u
OCHRE=$(realpath "${1:?usage: kill9.sh OCHRE_BINARY [POINTS] [STATE]}")
POINTS=${2:-200}
DIR=$(mktemp -d /tmp/ochre-torture-XXXXXX)
STATE=${3:-$DIR/state.db}
SEED=${OCHRE_TORTURE_SEED:-$$}
RANDOM=$SEED
trap 'rm -rf "$DIR"' EXIT
cd "$DIR" || exit 2

cat > pipeline.lua <<'LUA'
local ochre = require "ochre"
local PHASE = os.getenv("PHASE")
local DIR = os.getenv("TDIR")
local function append(line)
  local f = assert(io.open(DIR .. "/ledger", "a")) f:write(line .. "\n") f:close()
end
local function hook(action)
  return function(self)
    local id = tostring(self) .. " " .. action .. " " .. PHASE
    append("start " .. id)
    if self.slow and not io.open(DIR .. "/slow-" .. tostring(self.identifier) .. PHASE) then
      io.open(DIR .. "/slow-" .. tostring(self.identifier) .. PHASE, "w"):close()
      ochre.sleep(5)  -- past --timeout: this attempt fails, the next one runs
    end
    ochre.sleep(0.002 * (#tostring(self) % 4))
    append("end " .. id)
  end
end
local W = ochre.component "W" {
  breaks = { "b" },
  fields = { v = 0, b = 0, slow = false },
  create = hook("create"), update = hook("update"), delete = hook("delete"),
}
local all = {}
for i = 1, 40 do
  all[i] = W("w" .. i) { v = PHASE == "1" and 1 or 2, b = (PHASE == "3" or PHASE == "4") and 1 or 0, slow = i % 10 == 0 }
end
return all
LUA

export TDIR=$DIR
run() { OCHRE_STATE="$STATE" "$OCHRE" "$@"; }
query() {
  if [[ $STATE == postgres* ]]; then  # schema "ochre", keys as bytea
    local as_text="convert_from(key, 'UTF8') || "
    PGOPTIONS=--search_path=ochre psql -qAt "$STATE" -c "${1//key || /$as_text}"
  else
    sqlite3 "$STATE" "$1"
  fi
}
kills=0
lost=0 unfinished=0 double=0 integrity=0
per_phase=$(( (POINTS + 3) / 4 ))
for phase in 1 2 3 4; do
  export PHASE=$phase
  first_run=$(( $(query "SELECT coalesce(max(id), 0) FROM runs" 2>/dev/null || echo 0) + 1 ))
  cmd=run; [[ $phase == 4 ]] && cmd=destroy  # phase 4 destroys what phase 3 left
  n=0
  while (( n < per_phase )); do
    # Not through run(): $! must be ochre itself, not a subshell around it.
    OCHRE_STATE="$STATE" "$OCHRE" $cmd pipeline.lua --timeout 1 -j 4 >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf '%03d' $(( RANDOM % 400 )))"
    if kill -9 "$pid" 2>/dev/null; then n=$((n + 1)); kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null
  done
  # Finish the phase: a timeout's retry may take one more run.
  for _ in 1 2 3; do run $cmd pipeline.lua --timeout 1 -j 4 >/dev/null 2>&1 && break; done
  if [[ $phase == 4 ]]; then
    [[ $(query "SELECT count(*) FROM instances") == 0 ]] || integrity=$((integrity + 1))
  elif ! run plan pipeline.lua 2>&1 | grep -q "No changes needed"; then
    integrity=$((integrity + 1)); echo "phase $phase: a second plan is not empty"
  fi
  # The phase's jobs, from the journal: key action outcome.
  query "SELECT key || ' ' || action || ' ' || outcome FROM jobs WHERE run >= $first_run" > journal.$phase
  expect=create; [[ $phase == 2 ]] && expect=update; [[ $phase == 4 ]] && expect=delete
  for i in $(seq 1 40); do
    key="W/w$i"
    if [[ $phase == 3 ]]; then actions="delete create"; else actions=$expect; fi
    for action in $actions; do
      id="$key $action $phase"
      ends=$(grep -cx "end $id" ledger)
      done_n=$(grep -c "^$key $action done$" journal.$phase)
      cut=$(grep -cE "^$key $action (interrupted|running|failed)$" journal.$phase)
      # a replace journals as one create job (delete, then create)
      if [[ $phase == 3 ]]; then done_n=$(grep -c "^$key create done$" journal.$phase); cut=$(grep -cE "^$key create (interrupted|running|failed)$" journal.$phase); fi
      (( done_n != 1 )) && lost=$((lost + 1)) && echo "lost: $id (done $done_n times)"
      (( done_n >= 1 && ends == 0 )) && unfinished=$((unfinished + 1)) && echo "unfinished recorded done: $id"
      (( ends > 1 + cut )) && double=$((double + 1)) && echo "double run: $id ($ends ends, $cut cut short)"
    done
  done
  if [[ $STATE != postgres* ]] && [[ $(query "PRAGMA integrity_check") != ok ]]; then integrity=$((integrity + 1)); fi
done
echo "seed $SEED state $STATE: $kills kill -9 points; lost $lost, unfinished recorded done $unfinished, double runs $double, integrity failures $integrity"
(( lost + unfinished + double + integrity == 0 ))
