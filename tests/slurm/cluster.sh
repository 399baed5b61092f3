#!/usr/bin/env bash
# cluster.sh — a two-node Slurm cluster on this machine, for the tests and the README's worked example.
#
#   tests/slurm/cluster.sh start DIR   writes DIR/slurm.conf, starts munged, slurmctld and two slurmd
#                                      (nodes n1 and n2, both this host, each with all its CPUs) and waits
#                                      until both nodes are idle; then `export SLURM_CONF=DIR/slurm.conf`
#   tests/slurm/cluster.sh stop DIR    cancels every job, waits for them to end, stops the daemons by the pids
#                                      recorded at start, and removes DIR
#
# Needs root (slurmd launches jobs) and Debian's slurmctld, slurmd, slurm-client and munge (`make deps`).
# Everything lives in DIR: the munge key and socket, the spool, state, pid and log files; the daemons listen
# on loopback ports picked free at start. No systemd: the daemons run in the foreground, detached, and their
# pids are recorded in DIR/pids. Exit status 77 from `start` means the cluster cannot run here (the reason on
# stderr), so a test can skip rather than fail.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }
cannot() { echo "cluster.sh: cannot start a local Slurm cluster: $*" >&2; exit 77; }

# A loopback port nothing listens on, from $1 upwards.
free_port() {
    local port=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$port"
}

# Starts "$@" detached in the foreground mode of the daemon, recording its pid under name $1 in DIR/pids.
launch() {
    local name=$1
    shift
    setsid "$@" >"$dir/log/$name.out" 2>&1 </dev/null &
    echo "$name $!" >>"$dir/pids"
}

wait_for() { # seconds, description, command...
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "cluster.sh: $what did not happen within $seconds s; logs in $dir/log:" >&2
    tail -n 5 "$dir"/log/* >&2 || true
    return 1
}

nodes_idle() { [ "$(sinfo -h -N -o '%N %t' | grep -c ' idle$')" = 2 ]; }
no_jobs() { [ -z "$(squeue -h -o %A)" ]; }

start() {
    [ "$(id -u)" = 0 ] || cannot "it needs root (slurmd starts the jobs); run the Slurm tests as root"
    for tool in munged slurmctld slurmd sbatch squeue scontrol sinfo scancel setpriv; do
        command -v "$tool" >/dev/null ||
            cannot "$tool is not installed (make deps installs slurmctld, slurmd, slurm-client and munge)"
    done
    id munge >/dev/null 2>&1 || cannot "there is no munge user (the munge package creates it)"
    [ ! -e "$dir/pids" ] || die "$dir already holds a cluster (stop it first: $0 stop $dir)"
    mkdir -p "$dir"/{log,state,spool/n1,spool/n2,munge}
    chmod 755 "$dir"
    chown munge:munge "$dir/munge"
    chmod 755 "$dir/munge" # munged wants its socket folder searchable by all
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"

    local base=$((20000 + RANDOM % 20000)) ctld n1 n2
    ctld=$(free_port "$base")
    n1=$(free_port $((ctld + 1)))
    n2=$(free_port $((n1 + 1)))
    local cpus
    cpus=$(nproc)
    cat >"$dir/slurm.conf" <<EOF
# A two-node cluster on one host, written by tests/slurm/cluster.sh.
ClusterName=shapebench
SlurmctldHost=localhost
SlurmctldPort=$ctld
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
# No cgroups: they work but leave /sys/fs/cgroup/*/slurm_* behind; two slurmd on one host need task/none.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
# No accounting database (no sacct): finished jobs are recorded in a text file.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
# Finished jobs leave squeue after 2 s (Slurm refuses less).
MinJobAge=2
ReturnToService=2
SlurmdTimeout=30
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$n1 CPUs=$cpus State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$n2 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$dir/slurm.conf
    : >"$dir/pids"
    launch munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
        --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
    wait_for 10 "munged's socket" test -S "$dir/munge/munge.socket" || { stop_daemons; cannot "munged did not start"; }
    launch slurmctld slurmctld -D -f "$dir/slurm.conf"
    launch slurmd-n1 slurmd -D -N n1 -f "$dir/slurm.conf"
    launch slurmd-n2 slurmd -D -N n2 -f "$dir/slurm.conf"
    wait_for 30 "both nodes idle" nodes_idle || { stop_daemons; cannot "the nodes did not come up"; }
    echo "SLURM_CONF=$dir/slurm.conf"
}

stop_daemons() {
    [ -f "$dir/pids" ] || return 0
    # slurmd first, then the controller, then munge; each by the pid recorded at start, and waited for.
    local name pid
    for name in slurmd-n1 slurmd-n2 slurmctld munged; do
        pid=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/pids")
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$dir/pids"
}

stop() {
    [ -d "$dir" ] || return 0
    if [ -f "$dir/pids" ]; then
        # Stopping slurmd does not stop its jobs: cancel them and wait until they are gone.
        export SLURM_CONF=$dir/slurm.conf
        local jobs
        jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)
        if [ -n "${jobs// /}" ]; then
            # shellcheck disable=SC2086 # one job id per word
            scancel $jobs 2>/dev/null || true
            wait_for 30 "the jobs' end" no_jobs || true
        fi
        stop_daemons
    fi
    rm -rf "$dir"
}

[ $# = 2 ] || die "usage: $0 start|stop DIR"
dir=$(realpath -m "$2")
case "$1" in
start) start ;;
stop) stop ;;
*) die "usage: $0 start|stop DIR" ;;
esac
