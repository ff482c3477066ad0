#!/usr/bin/env bash
# A single-node SLURM cluster for tests, from Debian's slurm-wlm and munge, without systemd.
#
#   tests/cluster/slurm.sh install   apt-get install slurm-wlm munge (if slurmctld is missing)
#   tests/cluster/slurm.sh start     munged, slurmctld, slurmd; waits until the node is idle
#   tests/cluster/slurm.sh stop      cancels jobs, shuts the daemons down, removes the config
#
# Needs root. The config goes to /etc/slurm/slurm.conf because SLURM_CONF does not reach job
# steps (the executor plugin's srun drops it); it is removed again at stop, since its presence
# with no slurmctld makes every snakemake call in a venv with the slurm plugin stall ~9 s.
# An /etc/slurm/slurm.conf that this script did not write is never touched. State and logs live
# in $UNRENDER_SLURM_DIR (default /tmp/unrender-slurm), wiped at every start. Every command
# that talks to a daemon runs under `timeout`, so nothing here can hang.
set -euo pipefail

STATE_DIR=${UNRENDER_SLURM_DIR:-/tmp/unrender-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# written by unrender tests/cluster/slurm.sh"
STARTED_MUNGE="$STATE_DIR/started-munged"
T=20 # seconds for any one SLURM command

die() {
    echo "slurm.sh: $*" >&2
    exit 1
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (it starts munged, slurmctld and slurmd)"
}

install() {
    need_root
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
    local packages=(slurm-wlm munge)
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends \
        "${packages[@]}" ||
        { timeout 300 apt-get update &&
            DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y \
                --no-install-recommends "${packages[@]}"; } ||
        die "could not install ${packages[*]} with apt-get"
}

show_logs() {
    for log in "$STATE_DIR"/log/*.log; do
        [[ -f $log ]] && { echo "--- $log (last 30 lines)" >&2; tail -n 30 "$log" >&2; }
    done
    return 0
}

write_conf() {
    local node_line node
    # The hardware line as slurmd itself sees it; a higher RealMemory would mark the node invalid.
    node_line=$(timeout $T slurmd -C | head -n 1)
    [[ $node_line == NodeName=* ]] || die "slurmd -C printed no NodeName line: $node_line"
    node=${node_line#NodeName=}
    node=${node%% *}
    mkdir -p "$(dirname "$CONF")"
    # One Key=Value per line: slurm.conf refuses several keys on one line.
    cat >"$CONF" <<EOF
$MARKER; removed by 'slurm.sh stop'
ClusterName=unrender-test
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=7200
MpiDefault=none
MailProg=/bin/true
EnforcePartLimits=ALL
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$node_line
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

ours() {
    [[ -f $CONF ]] && head -n 1 "$CONF" | grep -qF "$MARKER"
}

start() {
    need_root
    command -v slurmctld >/dev/null || die "slurmctld not found: run 'tests/cluster/slurm.sh install'"
    if [[ -f $CONF ]] && ! ours; then
        die "$CONF exists and was not written by this script; refusing to replace a real cluster's config"
    fi
    # MinJobAge=7200 keeps finished jobs visible to squeue, which the profile's status command
    # needs and tests/test_cluster.py reads after the run: far above the test's run limit.
    rm -rf "$STATE_DIR"
    mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/d" "$STATE_DIR/log"
    if ! timeout $T bash -c 'munge -n | unmunge' >/dev/null 2>&1; then
        mkdir -p /run/munge
        chown munge:munge /run/munge
        timeout $T runuser -u munge -- /usr/sbin/munged || die "munged did not start"
        touch "$STARTED_MUNGE"
        timeout $T bash -c 'until munge -n | unmunge >/dev/null 2>&1; do sleep 0.2; done' ||
            die "munged started but 'munge -n | unmunge' still fails"
    fi
    write_conf
    # Both daemonize with rc 0 even if they die at once, so the state is polled below.
    timeout $T slurmctld || { show_logs; stop; die "slurmctld failed to start"; }
    timeout $T slurmd || { show_logs; stop; die "slurmd failed to start"; }
    if ! timeout 90 bash -c "until [[ \$(sinfo -h -o %t 2>/dev/null) == idle ]]; do sleep 0.5; done"; then
        echo "slurm.sh: the node never became idle; sinfo says: $(timeout $T sinfo 2>&1 || true)" >&2
        show_logs
        stop
        die "single-node SLURM did not come up"
    fi
    echo "slurm.sh: single-node SLURM up ($(timeout $T sinfo -h -o '%P %D %t %c CPUs %m MB'))"
}

kill_pidfile() {
    local pidfile=$1 pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    timeout 15 bash -c "while kill -0 $pid 2>/dev/null; do sleep 0.2; done" || kill -KILL "$pid" 2>/dev/null || true
}

stop() {
    need_root
    if ours && timeout 5 scontrol ping >/dev/null 2>&1; then
        # scontrol shutdown leaves running jobs alive, so they are cancelled first.
        timeout $T scancel --user=root || true
        timeout 60 bash -c 'while [[ -n $(squeue -h 2>/dev/null) ]]; do sleep 0.5; done' ||
            echo "slurm.sh: jobs still listed after 60 s; shutting down anyway" >&2
        timeout $T scontrol shutdown || true
    fi
    # Whatever did not stop by itself (or a setup left by a killed test) is stopped by its pid file.
    kill_pidfile "$STATE_DIR/slurmd.pid"
    kill_pidfile "$STATE_DIR/slurmctld.pid"
    if [[ -f $STARTED_MUNGE ]]; then
        timeout $T munged --stop || kill_pidfile /run/munge/munged.pid
    fi
    if ours; then rm -f "$CONF"; fi
    rm -rf "$STATE_DIR"
    echo "slurm.sh: stopped"
}

case ${1:-} in
install) install ;;
start) start ;;
stop) stop ;;
*) die "usage: $0 install|start|stop" ;;
esac
