#!/usr/bin/env bash
# Stops the local control plane that up.sh started (kube-apiserver, then etcd). With --purge it
# also deletes the state dir: etcd's data, the certificates and the kubeconfig.
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

# stop NAME: SIGTERM, and SIGKILL if it is still there after 30 s.
stop() {
  local pid i
  if ! pid="$(running_pid "$1")"; then
    echo "$1 not running"
    rm -f "$state/$1.pid"
    return
  fi
  echo "Stopping $1 (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for (( i = 0; i < 30; i++ )); do
    running_pid "$1" >/dev/null || break
    sleep 1
  done
  if running_pid "$1" >/dev/null; then
    echo "$1 still running after 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/$1.pid"
}

# The API server first, so that it does not fill its log with errors about a vanished etcd.
stop kube-apiserver
stop etcd

if (( purge )) && [[ -d "$state" ]]; then
  # Only a dir that up.sh made: MOE_LOCAL_CLUSTER_STATE could point anywhere.
  [[ -f "$state/.moe-local-cluster" ]] || die "$state was not made by up.sh (no .moe-local-cluster in it); not deleting it"
  rm -rf "$state"
  echo "Deleted $state"
fi
