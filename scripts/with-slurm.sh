#!/bin/bash
# Runs COMMAND... with a private single-machine Slurm cluster: its own munge key and
# socket, its own slurm.conf, state and logs in a temporary directory, free ports, no
# cgroups and no systemd. SLURM_CONF names its configuration (every Slurm command reads
# it); OCHRE_TEST_SLURM_DIR is its directory (slurmctld.log, jobcomp.log: the cluster's
# own record). The node advertises OCHRE_SLURM_CPUS CPUs (64 by default, more than the
# machine has: the jobs of the tests mostly wait). Everything is stopped and removed
# when COMMAND ends, whatever its outcome; COMMAND's exit code is this script's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh" --slurm

dir=$(mktemp -d /tmp/ochre-slurm.XXXXXX)
# munged refuses a socket directory that others cannot traverse.
chmod 755 "$dir"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 755 "$dir/munge"
pids=()

stop() {
  local p e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Jobs still running when the daemons went (a run stopped mid-way): their steps and
  # scripts carry this cluster's SLURM_CONF in their environment.
  for e in /proc/[0-9]*/environ; do
    p=${e#/proc/}
    p=${p%/environ}
    [ "$p" = "$$" ] && continue
    if grep -qsaF "SLURM_CONF=$dir/slurm.conf" "$e"; then kill -9 "$p" 2>/dev/null || true; fi
  done
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

fail() {
  echo "with-slurm: $1" >&2
  for f in munged.log slurmctld.log slurmd.log; do
    [ -s "$dir/$f" ] && { echo "--- $f" >&2; tail -20 "$dir/$f" >&2; }
  done
  exit 2
}

# A free port: nothing listens on it now.
free_port() {
  local port
  while :; do
    port=$(( 20000 + (RANDOM % 20000) ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

head -c 1024 /dev/urandom >"$dir/munge.key"
chmod 400 "$dir/munge.key"
socket="$dir/munge/munge.socket"
munged --force --key-file="$dir/munge.key" --socket="$socket" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed" || fail "munged did not start"
pids+=("$(cat "$dir/munge/munged.pid")")

ctld_port=$(free_port)
node_port=$(free_port)
while [ "$node_port" = "$ctld_port" ]; do node_port=$(free_port); done
host=$(hostname -s)
user=$(id -un)
cpus=${OCHRE_SLURM_CPUS:-64}
cat >"$dir/slurm.conf" <<EOF
ClusterName=ochre-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$node_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" >>"$dir/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >>"$dir/slurmd.log" 2>&1 &
pids+=($!)

# Ready once the node is idle and a first job ran (the scheduler's first cycle comes a
# few seconds after the start).
for _ in $(seq 1 300); do
  [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = "idle" ] && break
  sleep 0.1
done
[ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = "idle" ] || fail "the node did not become idle"
first=$(sbatch --parsable -o /dev/null -e /dev/null -J with-slurm-ready --wrap true) || fail "sbatch failed"
for _ in $(seq 1 300); do
  [ -z "$(squeue -h -j "$first" -o %T 2>/dev/null)" ] && break
  sleep 0.1
done
[ -z "$(squeue -h -j "$first" -o %T 2>/dev/null)" ] || fail "the first job did not run"

export OCHRE_TEST_SLURM_DIR="$dir"
echo "with-slurm: a private cluster at $SLURM_CONF"
set +e
"$@"
rc=$?
exit $rc
