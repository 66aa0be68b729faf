#!/usr/bin/env bash
# A real single-node SLURM cluster (munged + slurmctld + slurmd) under one
# directory, as root, without systemd, for tests/test_slurm.py and for trying
# the cluster profile by hand. Adapted from the team's shared recipe
# (Debian 12, Slurm 22.05, snakemake-executor-plugin-slurm 2.8). Differences:
#  * the node advertises ${XENT_SLURM_GPUS:-2} fake "gpu" GRES (character devices
#    aliasing /dev/null), so the profile's `gpu: 1` request is scheduled as on a
#    real GPU partition; the jobs themselves see no CUDA and train on the CPU;
#  * no accounting database (sacct): use `--slurm-status-command squeue`, and
#    finished jobs stay visible to `scontrol show job` for MinJobAge seconds.
# Idempotent: daemons whose recorded PID still runs are left alone. Waits until
# the node is idle, then:   source $XENT_SLURM_DIR/env.sh
#
#   XENT_SLURM_DIR        base dir        (default ${TMPDIR:-/tmp}/xent_slurm)
#   XENT_SLURM_PARTITION  partition name  (default debug)
#   XENT_SLURM_GPUS       fake GPUs       (default 2)
#   XENT_SLURM_TIMEOUT    seconds to wait per daemon (default 60)
# Needs: apt-get install -y slurmctld slurmd slurm-client munge
set -euo pipefail

BASE=${XENT_SLURM_DIR:-${TMPDIR:-/tmp}/xent_slurm}
PART=${XENT_SLURM_PARTITION:-debug}
GPUS=${XENT_SLURM_GPUS:-2}
TMO=${XENT_SLURM_TIMEOUT:-60}
CLUSTER=xent
NODE=localhost
MUNGE_SOCK=$BASE/munge/munge.socket.2
PIDS=$BASE/pids
export SLURM_CONF=$BASE/etc/slurm.conf

t_start=$(date +%s.%N)
log() { printf '[start_cluster %6.2fs] %s\n' "$(echo "$(date +%s.%N) - $t_start" | bc)" "$*"; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$BASE"/{etc,log,state,spool,run,bin}
touch "$PIDS"

# ---- pid bookkeeping ------------------------------------------------------
pid_of() { awk -v n="$1" '$1==n {p=$2} END {print p}' "$PIDS"; }
alive() {  # alive NAME -> 0 if recorded pid runs a process whose comm is NAME (or still nohup, which
  # execs NAME a moment after `daemon` starts it: on a loaded machine the first check can come first)
  local p c; p=$(pid_of "$1")
  c=$(cat /proc/$p/comm 2>/dev/null)
  [[ -n "$p" && -r /proc/$p/comm && ( "$c" == "$1" || "$c" == nohup ) ]] &&
  [[ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" != Z ]]
}
record() { grep -v "^$1 " "$PIDS" > "$PIDS.tmp" || true; echo "$1 $2" >> "$PIDS.tmp"; mv "$PIDS.tmp" "$PIDS"; }
wait_for() {  # wait_for DESCRIPTION NAME CMD...
  local what=$1 name=$2; shift 2
  local end=$(( $(date +%s) + TMO ))
  until "$@" >/dev/null 2>&1; do
    alive "$name" || die "$name died while waiting for $what (see $BASE/log/$name.log)"
    (( $(date +%s) < end )) || die "timeout waiting for $what"
    sleep 0.2
  done
  log "$what: ok"
}
daemon() {  # daemon NAME CMD...   (CMD must stay in the foreground)
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(pid_of "$name"))"; return 0; fi
  nohup "$@" >> "$BASE/log/$name.log" 2>&1 < /dev/null &
  record "$name" $!
  log "started $name (pid $!)"
}

# ---- munge ----------------------------------------------------------------
mkdir -p "$BASE/munge"; chmod 711 "$BASE/munge"
[[ -s $BASE/munge/munge.key ]] || { mungekey --create --keyfile="$BASE/munge/munge.key" --force; chmod 600 "$BASE/munge/munge.key"; }
daemon munged munged --foreground --force --key-file="$BASE/munge/munge.key" \
  --socket="$MUNGE_SOCK" --pid-file="$BASE/munge/munged.pid" \
  --seed-file="$BASE/munge/munged.seed" --log-file="$BASE/log/munged.daemon.log"
wait_for "munge round trip" munged sh -c "munge -n -S '$MUNGE_SOCK' | unmunge -S '$MUNGE_SOCK'"

# ---- slurm.conf ------------------------------------------------------------
# Hardware line from slurmd -C, renamed to $NODE (slurmd is started with -N $NODE)
HW=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //')
{
cat <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
# >= 3*init_seconds_before_status_checks so the snakemake plugin accepts squeue
MinJobAge=300
EOF
cat <<EOF
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
EOF
cat <<EOF
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 $HW Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PART Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
} > "$SLURM_CONF.new"
# Fake GPUs: slurmd drops GPU GRES without a device file, so each is a character
# device node with /dev/null's numbers (1,3) under $BASE/dev; nothing opens them.
mkdir -p "$BASE/dev"
: > "$BASE/etc/gres.conf"
for ((i = 0; i < GPUS; i++)); do
  [[ -c $BASE/dev/fakegpu$i ]] || mknod "$BASE/dev/fakegpu$i" c 1 3
  echo "NodeName=$NODE Name=gpu File=$BASE/dev/fakegpu$i" >> "$BASE/etc/gres.conf"
done
if [[ -f $SLURM_CONF ]] && cmp -s "$SLURM_CONF" "$SLURM_CONF.new"; then
  rm "$SLURM_CONF.new"
else
  if alive slurmctld || alive slurmd; then
    die "slurm.conf would change while slurmctld/slurmd run; run stop_cluster.sh first ($SLURM_CONF.new)"
  fi
  mv "$SLURM_CONF.new" "$SLURM_CONF"; log "wrote $SLURM_CONF"
fi

# client environment + srun wrapper.  snakemake-executor-plugin-slurm-jobstep
# drops every SLURM_* variable (SLURM_CONF too) before its nested `srun`, so
# srun inside jobs would look for /etc/slurm/slurm.conf; the wrapper re-adds it.
cat > "$BASE/bin/srun" <<EOF
#!/bin/sh
export SLURM_CONF="\${SLURM_CONF:-$SLURM_CONF}"
exec /usr/bin/srun "\$@"
EOF
chmod +x "$BASE/bin/srun"
cat > "$BASE/env.sh" <<EOF
export SLURM_CONF=$SLURM_CONF
case ":\$PATH:" in *":$BASE/bin:"*) ;; *) export PATH=$BASE/bin:\$PATH ;; esac
EOF

# ---- slurmctld + slurmd ----------------------------------------------------
daemon slurmctld slurmctld -D -f "$SLURM_CONF"
wait_for "slurmctld" slurmctld sh -c 'scontrol ping | grep -q "is UP"'
daemon slurmd slurmd -D -N "$NODE" -f "$SLURM_CONF"
end=$(( $(date +%s) + TMO ))
# idle (or busy with jobs, when re-run on a running cluster)
node_ready() {
  [[ $(sinfo -h -n "$NODE" -o %T 2>/dev/null) =~ ^(idle|mixed|allocated)$ ]] &&
  ! scontrol show node "$NODE" 2>/dev/null | grep -q 'SlurmdStartTime=None'
}
until node_ready; do
  st=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  case $st in drain*|down*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;; esac
  alive slurmd || die "slurmd died (see $BASE/log/slurmd.log)"
  (( $(date +%s) < end )) || die "timeout waiting for node idle (state: $st)"
  sleep 0.2
done
log "node $NODE registered and idle"
# end-to-end smoke test: munge credential, slurmd launch, step completion
# (skipped when the node is busy, i.e. on a re-run while jobs are running)
if [[ $(sinfo -h -n "$NODE" -o %T) == idle ]]; then
  timeout 60 srun -N1 -n1 -t 1 -J start_cluster_smoke true || die "smoke test 'srun true' failed"
  log "srun smoke test: ok"
fi
log "cluster ready. Use: source $BASE/env.sh"
sinfo
