#!/usr/bin/env bash
# Stop the daemons started by start_cluster.sh -- only the PIDs recorded in
# $XENT_SLURM_DIR/pids, and only if /proc/<pid>/comm still matches the name
# (guards against PID reuse).  Never kills by process name.
# XENT_SLURM_WIPE=1 additionally deletes state/spool/munge dirs (not logs).
set -uo pipefail
BASE=${XENT_SLURM_DIR:-${TMPDIR:-/tmp}/xent_slurm}
PIDS=$BASE/pids
export SLURM_CONF=$BASE/etc/slurm.conf
wipe() {
  if [[ ${XENT_SLURM_WIPE:-0} == 1 ]]; then
    rm -rf "$BASE"/{state,spool,run,munge}
    echo "wiped state under $BASE"
  fi
}
[[ -f $PIDS ]] || { echo "no $PIDS, nothing to stop"; wipe; exit 0; }

pid_of() { awk -v n="$1" '$1==n {p=$2} END {print p}' "$PIDS"; }
is_ours() {  # is_ours NAME PID: running (not zombie) and comm == NAME
  [[ -n "$2" && -r /proc/$2/comm && "$(cat /proc/$2/comm 2>/dev/null)" == "$1" ]] &&
  [[ "$(awk '{print $3}' /proc/$2/stat 2>/dev/null)" != Z ]]
}

# cancel jobs still known to our slurmctld, so no slurmstepd outlives slurmd
p=$(pid_of slurmctld)
if is_ours slurmctld "$p"; then
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
  if [[ -n $jobs ]]; then
    echo "cancelling jobs: $(echo $jobs)"; timeout 10 scancel $jobs || true
    for _ in $(seq 1 50); do [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.2; done
  fi
fi

# reverse start order
for name in slurmd slurmctld munged; do
  p=$(pid_of "$name")
  [[ -n $p ]] || continue
  if ! is_ours "$name" "$p"; then echo "$name (pid $p) not running"; continue; fi
  kill -TERM "$p"
  for _ in $(seq 1 100); do is_ours "$name" "$p" || break; sleep 0.1; done
  if is_ours "$name" "$p"; then echo "$name (pid $p) ignored SIGTERM, sending SIGKILL"; kill -KILL "$p"; sleep 0.5; fi
  is_ours "$name" "$p" && echo "WARNING: $name (pid $p) still alive" || echo "stopped $name (pid $p)"
done
rm -f "$PIDS"

wipe
