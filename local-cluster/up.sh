#!/usr/bin/env bash
# Starts a single-machine Kubernetes control plane for the local demo: etcd and kube-apiserver,
# built by build.sh, as background processes, with self-made certificates and an admin kubeconfig.
# No kubelet, controller-manager or scheduler: the API works, but pods are never run.
#
# Environment (all optional):
#   MOE_LOCAL_CLUSTER_STATE      state dir: etcd data, certificates, kubeconfig, pid files, logs
#                                (default ${XDG_STATE_HOME:-$HOME/.local/state}/moe-operator/local-cluster)
#   MOE_LOCAL_CLUSTER_PORT       kube-apiserver's port on 127.0.0.1 (default 6443)
#   MOE_LOCAL_CLUSTER_ETCD_PORT  etcd's client port on 127.0.0.1 (default 2379; peer port is +1)
#   and build.sh's (MOE_LOCAL_CLUSTER_CACHE, KUBE_API_TEST_DIR, MOE_LOCAL_CLUSTER_FORCE).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${MOE_LOCAL_CLUSTER_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/moe-operator/local-cluster}"
[[ "$state" == /* ]] || state="$PWD/$state"   # the processes are found by this path: one spelling
port="${MOE_LOCAL_CLUSTER_PORT:-6443}"
etcd_port="${MOE_LOCAL_CLUSTER_ETCD_PORT:-2379}"
peer_port=$((etcd_port + 1))
pki="$state/pki"
kubeconfig="$state/kubeconfig"

die() { echo "up.sh: $*" >&2; exit 1; }

(( $# == 0 )) || die "takes no arguments (configure it through the environment; see the header of $0)"

# A process counts as ours only if its command line names our state dir: a stale pid file may
# point at a reused pid.
running() {
  local pid args
  pid="$(cat "$state/$1.pid" 2>/dev/null)" || return 1
  args="$(ps -ww -o args= -p "$pid" 2>/dev/null)" || return 1
  [[ "$args" == *"$state"* ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# etcd's /health says true once it has a leader; asked through bash's /dev/tcp, so no curl needed.
etcd_healthy() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$etcd_port"
    printf 'GET /health HTTP/1.0\r\n\r\n' >&3
    grep -q '"health":"true"' <&3
  ) 2>/dev/null
}

if running etcd && running kube-apiserver; then
  echo "Local cluster already running (state in $state)"
  echo "export KUBECONFIG=$kubeconfig"
  exit 0
fi

command -v openssl >/dev/null || die "openssl is not on PATH (needed to make the cluster's certificates)"

# All ports are checked first, so that a clash stops it before a build and leaves nothing half
# started.
if ! running etcd; then
  for p in "$etcd_port" "$peer_port"; do
    port_in_use "$p" && die "port $p on 127.0.0.1 is in use (etcd needs $etcd_port and $peer_port; set MOE_LOCAL_CLUSTER_ETCD_PORT)"
  done
fi
if ! running kube-apiserver && port_in_use "$port"; then
  die "port $port on 127.0.0.1 is in use (set MOE_LOCAL_CLUSTER_PORT to another one)"
fi

# The state dir holds the CA key and the admin credentials: private to the user.
umask 077
mkdir -p "$state" "$pki"
# Marks the dir as ours, so that down.sh --purge deletes only a dir that up.sh made.
touch "$state/.moe-local-cluster"

# build.sh reuses its cache when it holds the binaries; its "Binaries:" line says where they are.
"$here/build.sh" | tee "$state/build.log" || die "build.sh failed (output above, and in $state/build.log)"
bin_dir="$(sed -n 's/^Binaries: *//p' "$state/build.log")"
[[ -n "$bin_dir" ]] || die "build.sh did not say where the binaries are (no \"Binaries:\" line in $state/build.log)"
for b in etcd kube-apiserver kubectl; do
  [[ -x "$bin_dir/$b" ]] || die "binary missing: $bin_dir/$b (build.sh did not produce it)"
done
kubectl=("$bin_dir/kubectl" --kubeconfig="$kubeconfig")

# Certificates, made once so that restarts keep the kubeconfig and service-account tokens valid.
# openssl's chatter goes to a log, shown only when it fails.
ossl() { openssl "$@" 2>>"$pki/openssl.log" || die "openssl $1 failed; see $pki/openssl.log"; }
# sign NAME SUBJECT EXTENSIONS: a key and a certificate for it, signed by the CA.
sign() {
  [[ -f "$pki/$1.crt" ]] && return
  ossl req -new -newkey rsa:2048 -nodes -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2"
  printf '%b\n' "$3" >"$pki/$1.ext"
  ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 825 -extfile "$pki/$1.ext" -out "$pki/$1.crt"
  rm -f "$pki/$1.csr" "$pki/$1.ext"
}
if [[ ! -f "$pki/ca.crt" ]]; then
  ossl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 3650 \
    -subj "/CN=moe-local-cluster-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  rm -f "$pki/apiserver.crt" "$pki/admin.crt"   # signed by a CA that is gone
fi
sign apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
# O=system:masters: the group that the API server allows everything, whatever RBAC says.
sign admin "/O=system:masters/CN=moe-local-admin" \
  "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
if [[ ! -f "$pki/sa.pub" ]]; then
  ossl genrsa -out "$pki/sa.key" 2048
  ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
fi

# Rewritten on every start, so a changed port reaches it.
{
  "${kubectl[@]}" config set-cluster moe-local --server="https://127.0.0.1:$port" \
    --certificate-authority="$pki/ca.crt" --embed-certs=true
  "${kubectl[@]}" config set-credentials moe-local-admin \
    --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs=true
  "${kubectl[@]}" config set-context moe-local --cluster=moe-local --user=moe-local-admin
  "${kubectl[@]}" config use-context moe-local
} >/dev/null

# wait_for NAME SECONDS COMMAND...: until COMMAND succeeds; fails early, with the log, when NAME
# has exited.
wait_for() {
  local name="$1" timeout="$2" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 20 "$state/$name.log" >&2
      die "$name exited; its log is $state/$name.log"
    fi
    (( SECONDS < deadline )) || die "$name not ready after ${timeout}s; its log is $state/$name.log"
    sleep 1
  done
}

# start NAME ARGS...: runs the binary NAME in the background, its pid and log in the state dir.
start() {
  local name="$1"
  shift
  nohup "$bin_dir/$name" "$@" </dev/null >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
}

if running etcd; then
  echo "etcd already running (pid $(cat "$state/etcd.pid"))"
else
  echo "Starting etcd on 127.0.0.1:$etcd_port (log: $state/etcd.log)"
  # Plain http, bound to loopback only: nothing but the local API server talks to it.
  start etcd \
    --name=moe-local \
    --data-dir="$state/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="moe-local=http://127.0.0.1:$peer_port"
  wait_for etcd 30 etcd_healthy
fi

if running kube-apiserver; then
  echo "kube-apiserver already running (pid $(cat "$state/kube-apiserver.pid"))"
else
  echo "Starting kube-apiserver on https://127.0.0.1:$port (log: $state/kube-apiserver.log)"
  start kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$port" \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer="https://127.0.0.1:$port" \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/12 \
    --allow-privileged=true
fi

# The API server answers /readyz once its post-start hooks are done; the default namespace comes
# a moment later, from its own bootstrap controller.
wait_for kube-apiserver 120 "${kubectl[@]}" get --raw /readyz
wait_for kube-apiserver 60 "${kubectl[@]}" get namespace default

echo "Local cluster ready: API server https://127.0.0.1:$port, state in $state"
echo "export KUBECONFIG=$kubeconfig"
