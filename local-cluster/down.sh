#!/usr/bin/env bash
# Stops the local cluster that up.sh started: prometheus-adapter, Prometheus, kwok, kube-scheduler
# and kube-controller-manager, then kube-apiserver, then etcd. With --purge it also deletes the state
# dir: etcd's data, Prometheus' data, the certificates, the kubeconfigs and the logs.
#
# Environment: MOE_LOCAL_CLUSTER_STATE, as for up.sh.
set -euo pipefail

state="${MOE_LOCAL_CLUSTER_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/moe-operator/local-cluster}"
[[ "$state" == /* ]] || state="$PWD/$state"   # as up.sh spells it

die() { echo "down.sh: $*" >&2; exit 1; }

purge=0
case "${1-}" in
  "") ;;
  --purge) purge=1 ;;
  *) die "unknown argument '$1' (usage: down.sh [--purge])" ;;
esac
(( $# <= 1 )) || die "too many arguments (usage: down.sh [--purge])"

# As in up.sh: a process counts as ours only if its command line names our state dir.
running_pid() {
  local pid args
  pid="$(cat "$state/$1.pid" 2>/dev/null)" || return 1
  args="$(ps -ww -o args= -p "$pid" 2>/dev/null)" || return 1
  [[ "$args" == *"$state"* ]] && echo "$pid"
}

stopped=0
# stop NAME...: SIGTERM to each, then waits for them all; SIGKILL to any still there after 30 s.
stop() {
  local name pid i left
  local -a pids=()
  for name in "$@"; do
    if pid="$(running_pid "$name")"; then
      echo "Stopping $name (pid $pid)"
      kill "$pid" 2>/dev/null || true
      pids+=("$name")
      stopped=$((stopped + 1))
    else
      rm -f "$state/$name.pid"
    fi
  done
  for (( i = 0; i < 300; i++ )); do
    left=0
    for name in "${pids[@]}"; do running_pid "$name" >/dev/null && left=1; done
    (( left )) || break
    sleep 0.1
  done
  for name in "${pids[@]}"; do
    if pid="$(running_pid "$name")"; then
      echo "$name still running after 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$name.pid"
  done
}

# The API server's clients first, then the API server, so that none of them fills its log with
# errors about a vanished API server or etcd.
stop prometheus-adapter prometheus kwok kube-scheduler kube-controller-manager
stop kube-apiserver
stop etcd
(( stopped )) || echo "No process of the local cluster in $state was running"

if (( purge )) && [[ -d "$state" ]]; then
  # Only a dir that up.sh made: MOE_LOCAL_CLUSTER_STATE could point anywhere.
  [[ -f "$state/.moe-local-cluster" ]] || die "$state was not made by up.sh (no .moe-local-cluster in it); not deleting it"
  rm -rf "$state"
  echo "Deleted $state"
fi
