#!/usr/bin/env bash
# Brings up a one-node Slurm cluster on this machine, for tests/slurm.rs
# (and for trying scripts/slurm_summarize.sh by hand). Run as root:
#
#   sudo scripts/slurm_setup.sh
#
# Installs slurm-wlm and munge with apt-get if missing, creates a munge key
# if there is none, writes /etc/slurm/slurm.conf for this host (its real
# CPUs and memory, from `slurmd -C`), starts munged, slurmctld and slurmd
# directly (containers have no systemd) and waits until the node is idle.
# No cgroups: processes are tracked by parent id (proctrack/linuxproc), so
# it also works in a container. On a cluster already up it returns at once.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
LOGS=/var/log/slurm
WAIT_S=${SLURM_SETUP_WAIT_S:-60}

say() { echo "slurm_setup: $*" >&2; }

die() {
  say "error: $*"
  for log in "$LOGS/slurmctld.log" "$LOGS/slurmd.log" /var/log/munge/munged.log; do
    if [ -f "$log" ]; then
      echo "--- last lines of $log" >&2
      tail -n 20 "$log" >&2
    fi
  done
  exit 1
}

# The node's state as sinfo reports it (idle, mix, alloc, down*, ...).
node_state() { timeout 10 sinfo -h -o %t 2>/dev/null | head -n 1; }

node_up() { [[ "$(node_state)" =~ ^(idle|mix|mixed|alloc|allocated|comp|completing)$ ]]; }

# Whether the daemon whose pid file is $1 is running.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "$(id -u)" -ne 0 ]; then
  say "error: must run as root (it installs packages and starts daemons); try: sudo $0"
  exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
  ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null ||
    die "apt-get install slurm-wlm munge failed"
fi

# munge: the key, then the daemon (as the munge user, as its package does).
if [ ! -s /etc/munge/munge.key ]; then
  say "creating a munge key"
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile=/etc/munge/munge.key
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  # --force: a socket left behind by a munged that was killed.
  runuser -u munge -- /usr/sbin/munged --force || die "munged did not start"
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null || die "munge does not work"
fi

# slurm.conf for this host. `slurmd -C` prints the node line as slurmd
# itself will see the hardware (CPUs, sockets, cores, threads, RealMemory).
host=$(hostname -s)
node=$(slurmd -C | head -n 1)
[[ "$node" == NodeName=* ]] || die "slurmd -C printed no node line: $node"
node=${node#NodeName=* }
conf=$(
  cat <<EOF
# Written by scripts/slurm_setup.sh: one node, no cgroups, no accounting.
ClusterName=tarjoman
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
# sbatch --wait polls every 2 s, then 8, then 32 unless MinJobAge is low: it
# lengthens its wait only while the wait is under MinJobAge/2. Ended jobs
# stay visible to scontrol for MinJobAge seconds.
MinJobAge=10
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)
# Already up with this configuration: nothing to do.
if [ "$(cat "$CONF" 2>/dev/null)" = "$conf" ] && running /run/slurmctld.pid &&
  running /run/slurmd.pid && node_up; then
  exit 0
fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGS"
if [ "$(cat "$CONF" 2>/dev/null)" != "$conf" ]; then
  say "writing $CONF"
  printf '%s\n' "$conf" >"$CONF"
  # Daemons running with another configuration: restart them.
  for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
    if running "$pidfile"; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 50); do
        running "$pidfile" || break
        sleep 0.1
      done
    fi
  done
fi

if ! running /run/slurmctld.pid; then
  say "starting slurmctld"
  slurmctld || die "slurmctld did not start"
fi
if ! running /run/slurmd.pid; then
  say "starting slurmd"
  slurmd || die "slurmd did not start"
fi

resumed=false
for _ in $(seq "$WAIT_S"); do
  node_up && exit 0
  state=$(node_state)
  # A node left down or drained by an earlier run: bring it back once.
  if ! $resumed && [[ "$state" =~ ^(down|drain|drained|draining)$ ]]; then
    scontrol update NodeName="$host" State=RESUME || true
    resumed=true
  fi
  sleep 1
done
die "node $host is not idle after ${WAIT_S}s (sinfo: $(node_state || true))"
