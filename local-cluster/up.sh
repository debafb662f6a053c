#!/usr/bin/env bash
# Starts a single-machine Kubernetes cluster for the local demo, from the binaries that build.sh
# builds, as background processes on 127.0.0.1 with self-made certificates: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler, and on request kwok (simulated nodes), Prometheus
# and prometheus-adapter (the custom metrics API). Writes an admin kubeconfig and waits until all
# of them are ready.
# No kubelet: pods run only on nodes that something else (kwok, the Java process node) manages.
#
# Usage: up.sh [--kwok] [--prometheus CONFIG_FILE] [--prometheus-adapter CONFIG_FILE]
#   --kwok                     also start kwok; it manages the nodes annotated
#                              kwok.x-k8s.io/node=fake and gives their pods IPs from 127.64.0.0/16
#   --prometheus CONFIG_FILE   also start Prometheus with that configuration (a scrape config
#                              can reach the cluster through kubernetes_sd_configs with
#                              kubeconfig_file: <state dir>/kubeconfig)
#   --prometheus-adapter CONFIG_FILE
#                              also start prometheus-adapter with that rules file, reading that
#                              Prometheus (needs --prometheus, now or running), and register it
#                              as the custom metrics API (APIService v1beta1.custom.metrics.k8s.io)
#
# Each start on a stopped cluster begins with an empty state dir: a new etcd, new certificates,
# no objects. While the cluster runs, up.sh again starts only the optional parts asked for that
# are not running yet.
#
# Environment (all optional; every listening port is on 127.0.0.1):
#   MOE_LOCAL_CLUSTER_STATE                    state dir: etcd data, certificates, kubeconfigs,
#                                              pid files, logs (default
#                                              ${XDG_STATE_HOME:-$HOME/.local/state}/moe-operator/local-cluster)
#   MOE_LOCAL_CLUSTER_PORT                     kube-apiserver (default 6443)
#   MOE_LOCAL_CLUSTER_ETCD_PORT                etcd's client port (default 2379; peer port is +1)
#   MOE_LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT  kube-controller-manager's secure port (default 10257)
#   MOE_LOCAL_CLUSTER_SCHEDULER_PORT           kube-scheduler's secure port (default 10259)
#   MOE_LOCAL_CLUSTER_KWOK_PORT                kwok's /healthz and /metrics (default 10247)
#   MOE_LOCAL_CLUSTER_PROMETHEUS_PORT          Prometheus' web and API port (default 9090)
#   MOE_LOCAL_CLUSTER_ADAPTER_PORT             prometheus-adapter's secure port (default 10280)
#   and build.sh's (MOE_LOCAL_CLUSTER_CACHE, KUBE_API_TEST_DIR, MOE_LOCAL_CLUSTER_FORCE).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${MOE_LOCAL_CLUSTER_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/moe-operator/local-cluster}"
[[ "$state" == /* ]] || state="$PWD/$state"   # the processes are found by this path: one spelling
port="${MOE_LOCAL_CLUSTER_PORT:-6443}"
etcd_port="${MOE_LOCAL_CLUSTER_ETCD_PORT:-2379}"
peer_port=$((etcd_port + 1))
cm_port="${MOE_LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT:-10257}"
scheduler_port="${MOE_LOCAL_CLUSTER_SCHEDULER_PORT:-10259}"
kwok_port="${MOE_LOCAL_CLUSTER_KWOK_PORT:-10247}"
prometheus_port="${MOE_LOCAL_CLUSTER_PROMETHEUS_PORT:-9090}"
adapter_port="${MOE_LOCAL_CLUSTER_ADAPTER_PORT:-10280}"
pki="$state/pki"
kubeconfig="$state/kubeconfig"
# Pod IPs that kwok hands out: loopback addresses, so that a local process can bind the IP of the
# pod it stands in for.
kwok_pod_cidr=127.64.0.1/16   # kwok counts up from the address given: 127.64.0.1 is the first

die() { echo "up.sh: $*" >&2; exit 1; }
usage="usage: up.sh [--kwok] [--prometheus CONFIG_FILE] [--prometheus-adapter CONFIG_FILE]"

# config_file OPTION FILE: FILE's absolute path, or dies when it cannot be read.
config_file() {
  [[ -f "$2" && -r "$2" ]] || die "$1 $2: no such readable file"
  echo "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
}

want_kwok=0
prometheus_config=""
adapter_config=""
while (( $# )); do
  case "$1" in
    --kwok) want_kwok=1 ;;
    --prometheus|--prometheus-adapter)
      (( $# >= 2 )) || die "$1 needs a configuration file ($usage)"
      if [[ "$1" == --prometheus ]]; then
        prometheus_config="$(config_file "$1" "$2")"
      else
        adapter_config="$(config_file "$1" "$2")"
      fi
      shift ;;
    *) die "unknown argument '$1' ($usage)" ;;
  esac
  shift
done

core=(etcd kube-apiserver kube-controller-manager kube-scheduler)
optional=()
(( want_kwok )) && optional+=(kwok)
[[ -n "$prometheus_config" ]] && optional+=(prometheus)
[[ -n "$adapter_config" ]] && optional+=(prometheus-adapter)

# A process counts as ours only if its command line names our state dir: a stale pid file may
# point at a reused pid.
running() {
  local pid args
  pid="$(cat "$state/$1.pid" 2>/dev/null)" || return 1
  args="$(ps -ww -o args= -p "$pid" 2>/dev/null)" || return 1
  [[ "$args" == *"$state"* ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_ok PORT PATH: a plain-http GET on 127.0.0.1 answers 200; through bash's /dev/tcp, so no
# curl needed.
http_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    head -n 1 <&3 | grep -q '^HTTP/1\.[01] 200 '
  ) 2>/dev/null
}

# The processes this run is to start, and what each listens on.
declare -A ports=(
  [etcd]="$etcd_port $peer_port" [kube-apiserver]="$port" [kube-controller-manager]="$cm_port"
  [kube-scheduler]="$scheduler_port" [kwok]="$kwok_port" [prometheus]="$prometheus_port"
  [prometheus-adapter]="$adapter_port"
)
to_start=()
core_running=()
for name in "${core[@]}"; do running "$name" && core_running+=("$name"); done
if (( ${#core_running[@]} == ${#core[@]} )); then
  for name in "${optional[@]}"; do
    if running "$name"; then echo "$name already running (pid $(cat "$state/$name.pid"))"; else to_start+=("$name"); fi
  done
  if (( ${#to_start[@]} == 0 )); then
    echo "Local cluster already running (state in $state)"
    echo "export KUBECONFIG=$kubeconfig"
    exit 0
  fi
else
  for name in "${core[@]}" kwok prometheus prometheus-adapter; do
    running "$name" && die "$name is running (pid $(cat "$state/$name.pid")) but the cluster is not complete; run down.sh first"
  done
  to_start=("${core[@]}" "${optional[@]}")
fi
if [[ " ${to_start[*]} " == *" prometheus-adapter "* && " ${to_start[*]} " != *" prometheus "* ]]; then
  running prometheus || die "--prometheus-adapter reads Prometheus: give --prometheus CONFIG_FILE too"
fi

# All ports are checked first, so that a clash stops it before a build and leaves nothing half
# started.
for name in "${to_start[@]}"; do
  for p in ${ports[$name]}; do
    port_in_use "$p" && die "port $p on 127.0.0.1 is in use ($name needs it; see the ports in the header of $0)"
  done
done

command -v openssl >/dev/null || die "openssl is not on PATH (needed to make the cluster's certificates)"

# The state dir holds the CA key and the admin credentials: private to the user.
umask 077
fresh=0
[[ " ${to_start[*]} " == *" etcd "* ]] && fresh=1
if (( fresh )); then
  # A new cluster: nothing of an earlier run is kept. Only a dir that up.sh made is emptied, as
  # MOE_LOCAL_CLUSTER_STATE could point anywhere.
  if [[ -d "$state" && -n "$(ls -A "$state")" ]]; then
    [[ -f "$state/.moe-local-cluster" ]] \
      || die "$state is not empty and was not made by up.sh (no .moe-local-cluster in it); not using it"
    rm -rf "$state"
  fi
  mkdir -p "$state" "$pki"
  # Marks the dir as ours, so that down.sh --purge and the next up.sh delete only a dir up.sh made.
  touch "$state/.moe-local-cluster"
fi

# build.sh reuses its cache when it holds the binaries; its "Binaries:" line says where they are.
"$here/build.sh" | tee "$state/build.log" || die "build.sh failed (output above, and in $state/build.log)"
bin_dir="$(sed -n 's/^Binaries: *//p' "$state/build.log")"
[[ -n "$bin_dir" ]] || die "build.sh did not say where the binaries are (no \"Binaries:\" line in $state/build.log)"
for b in kubectl "${to_start[@]}"; do
  [[ -x "$bin_dir/$b" ]] || die "binary missing: $bin_dir/$b (build.sh did not produce it)"
done
kubectl=("$bin_dir/kubectl" --kubeconfig="$kubeconfig")

# From here on a failure stops what this run started, so that the next run finds the ports free;
# the logs stay in the state dir.
started=()
stop_started() {
  local rc=$? name pid i left
  (( rc != 0 && ${#started[@]} > 0 )) || return 0
  for name in "${started[@]}"; do
    pid="$(cat "$state/$name.pid" 2>/dev/null)" && kill "$pid" 2>/dev/null || true
  done
  # Waits for them to be gone (10 s at most), so that their ports are free when up.sh returns.
  for (( i = 0; i < 100; i++ )); do
    left=0
    for name in "${started[@]}"; do running "$name" && left=1; done
    (( left )) || break
    sleep 0.1
  done
  echo "up.sh: stopped what it had started (${started[*]}); logs in $state" >&2
}
trap stop_started EXIT

if (( fresh )); then
  # Certificates. openssl's chatter goes to a log, shown only when it fails.
  ossl() { openssl "$@" 2>>"$pki/openssl.log" || die "openssl $1 failed; see $pki/openssl.log"; }
  # new_ca NAME CN: a self-signed CA, valid for 10 years.
  new_ca() {
    ossl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/$1.key" -out "$pki/$1.crt" -days 3650 \
      -subj "/CN=$2" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  }
  # sign CA NAME SUBJECT EXTENSIONS: a key and a certificate for it, signed by CA.
  sign() {
    ossl req -new -newkey rsa:2048 -nodes -keyout "$pki/$2.key" -out "$pki/$2.csr" -subj "$3"
    printf '%b\n' "$4" >"$pki/$2.ext"
    ossl x509 -req -in "$pki/$2.csr" -CA "$pki/$1.crt" -CAkey "$pki/$1.key" -CAcreateserial \
      -days 825 -extfile "$pki/$2.ext" -out "$pki/$2.crt"
    rm -f "$pki/$2.csr" "$pki/$2.ext"
  }
  new_ca ca moe-local-cluster-ca
  key_usage="keyUsage=critical,digitalSignature,keyEncipherment"
  serving="subjectAltName=IP:127.0.0.1,DNS:localhost\n$key_usage"
  sign ca kube-apiserver "/CN=kube-apiserver" "$serving\nextendedKeyUsage=serverAuth"
  # O=system:masters: the group that the API server allows everything, whatever RBAC says.
  sign ca admin "/O=system:masters/CN=moe-local-admin" "$key_usage\nextendedKeyUsage=clientAuth"
  # The controller manager and the scheduler serve on their secure ports and log in as the users
  # that Kubernetes' bootstrap RBAC gives their roles to, as on a real control plane: one
  # certificate each, for both.
  sign ca kube-controller-manager "/CN=system:kube-controller-manager" "$serving\nextendedKeyUsage=serverAuth,clientAuth"
  sign ca kube-scheduler "/CN=system:kube-scheduler" "$serving\nextendedKeyUsage=serverAuth,clientAuth"
  # The aggregation layer's front proxy, with a CA of its own: the API server presents this
  # certificate when it passes a request on to an extension API server (a metrics adapter), which
  # then trusts the request's X-Remote-* headers. The controller manager and the scheduler read
  # that CA from the extension-apiserver-authentication ConfigMap, and log errors without it.
  new_ca front-proxy-ca moe-local-front-proxy-ca
  sign front-proxy-ca front-proxy-client "/CN=front-proxy-client" "$key_usage\nextendedKeyUsage=clientAuth"
  # prometheus-adapter logs in as the user prometheus-adapter (the RBAC below), and serves under
  # the name the aggregator checks: its Service's DNS name, <service>.<namespace>.svc.
  sign ca prometheus-adapter "/CN=prometheus-adapter" \
    "subjectAltName=IP:127.0.0.1,DNS:prometheus-adapter.monitoring.svc\n$key_usage\nextendedKeyUsage=serverAuth,clientAuth"
  # Service-account tokens: the API server signs TokenRequests and checks tokens with this pair;
  # the controller manager signs the legacy token Secrets with it.
  ossl genrsa -out "$pki/sa.key" 2048
  ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

  # write_kubeconfig FILE USER CERT: a kubeconfig for the API server, logging in with CERT's
  # certificate, certificates embedded.
  write_kubeconfig() {
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: moe-local
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$pki/$3.crt")
    client-key-data: $(base64 -w0 "$pki/$3.key")
contexts:
- name: moe-local
  context:
    cluster: moe-local
    user: $2
current-context: moe-local
EOF
  }
  write_kubeconfig "$kubeconfig" moe-local-admin admin
  write_kubeconfig "$state/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
  write_kubeconfig "$state/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
  write_kubeconfig "$state/prometheus-adapter.kubeconfig" prometheus-adapter prometheus-adapter
fi

# wait_for NAME SECONDS WHAT COMMAND...: until COMMAND succeeds; fails early, with the end of its
# log, when NAME has exited.
wait_for() {
  local name="$1" timeout="$2" what="$3" deadline=$((SECONDS + $2))
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      echo "---- last lines of $state/$name.log ----" >&2
      tail -n 20 "$state/$name.log" >&2
      die "$name exited while waiting for $what; its log is $state/$name.log"
    fi
    (( SECONDS < deadline )) || die "$name: no $what after ${timeout}s; its log is $state/$name.log"
    sleep 0.2
  done
}

# start NAME ARGS...: runs the binary NAME in the background, its pid and log in the state dir.
start() {
  local name="$1"
  shift
  nohup "$bin_dir/$name" "$@" </dev/null >"$state/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
  started+=("$name")
}

# secure_healthz PORT [PATH]: /healthz (or PATH) of a component serving https with a certificate
# from our CA.
secure_healthz() { "${kubectl[@]}" --server="https://127.0.0.1:$1" get --raw "${2:-/healthz}"; }

starting() { [[ " ${to_start[*]} " == *" $1 "* ]]; }

if starting etcd; then
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
  wait_for etcd 30 "/health" http_ok "$etcd_port" /health
fi

if starting kube-apiserver; then
  echo "Starting kube-apiserver on https://127.0.0.1:$port (log: $state/kube-apiserver.log)"
  # Loopback addresses are refused in Endpoints and EndpointSlices: the API server does not
  # publish itself behind the "kubernetes" Service (--endpoint-reconciler-type=none), and reaches
  # an aggregated API server through its pod's address, not a Service IP (no kube-proxy here:
  # --enable-aggregator-routing).
  start kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$port" \
    --tls-cert-file="$pki/kube-apiserver.crt" \
    --tls-private-key-file="$pki/kube-apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer="https://127.0.0.1:$port" \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/12 \
    --allow-privileged=true \
    --requestheader-client-ca-file="$pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --endpoint-reconciler-type=none
  # /readyz answers once the post-start hooks (bootstrap RBAC among them) are done; the default
  # namespace comes a moment later, from the API server's own bootstrap controller.
  wait_for kube-apiserver 120 "/readyz" "${kubectl[@]}" get --raw /readyz
  wait_for kube-apiserver 60 "namespace default" "${kubectl[@]}" get namespace default
fi

if starting kube-controller-manager; then
  echo "Starting kube-controller-manager on https://127.0.0.1:$cm_port (log: $state/kube-controller-manager.log)"
  # All controllers that are on by default ("*"). HPAs are synced every 5 s (upstream: 15 s), so
  # that a local autoscaler reacts within seconds. Each controller calls the API server with its
  # own ServiceAccount's token (--use-service-account-credentials), as on a real control plane;
  # the CA signs the CSRs that the certificates API approves. One instance: no leader election.
  # Its FlexVolume probe would otherwise create /usr/libexec/kubernetes/kubelet-plugins/....
  start kube-controller-manager \
    --kubeconfig="$state/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$state/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$state/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$cm_port" \
    --tls-cert-file="$pki/kube-controller-manager.crt" \
    --tls-private-key-file="$pki/kube-controller-manager.key" \
    --client-ca-file="$pki/ca.crt" \
    --controllers='*' \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" \
    --cluster-signing-key-file="$pki/ca.key" \
    --flex-volume-plugin-dir="$state/kube-controller-manager-flexvolume" \
    --horizontal-pod-autoscaler-sync-period=5s \
    --leader-elect=false
fi

if starting kube-scheduler; then
  echo "Starting kube-scheduler on https://127.0.0.1:$scheduler_port (log: $state/kube-scheduler.log)"
  start kube-scheduler \
    --kubeconfig="$state/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$state/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$state/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$scheduler_port" \
    --tls-cert-file="$pki/kube-scheduler.crt" \
    --tls-private-key-file="$pki/kube-scheduler.key" \
    --client-ca-file="$pki/ca.crt" \
    --leader-elect=false
fi

if starting kube-controller-manager; then
  wait_for kube-controller-manager 60 "/healthz" secure_healthz "$cm_port"
  # Pods are admitted only once their namespace's default ServiceAccount exists: made by the
  # serviceaccount controller.
  wait_for kube-controller-manager 60 "ServiceAccount default/default" \
    "${kubectl[@]}" get serviceaccount default --namespace=default
fi
if starting kube-scheduler; then
  wait_for kube-scheduler 60 "/healthz" secure_healthz "$scheduler_port"
fi

if starting kwok; then
  echo "Starting kwok, /healthz on http://127.0.0.1:$kwok_port (log: $state/kwok.log)"
  # Only nodes annotated kwok.x-k8s.io/node=fake are kwok's: other nodes (the process node) are
  # left to whatever runs them. Node heartbeats go through Leases, as a kubelet's do.
  start kwok \
    --kubeconfig="$kubeconfig" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr="$kwok_pod_cidr" \
    --node-ip=127.0.0.1 \
    --node-lease-duration-seconds=40 \
    --server-address="127.0.0.1:$kwok_port"
  wait_for kwok 60 "/healthz" http_ok "$kwok_port" /healthz
fi

if starting prometheus; then
  echo "Starting prometheus on http://127.0.0.1:$prometheus_port with $prometheus_config (log: $state/prometheus.log)"
  # --web.enable-lifecycle: POST /-/reload rereads the configuration file.
  start prometheus \
    --config.file="$prometheus_config" \
    --web.listen-address="127.0.0.1:$prometheus_port" \
    --storage.tsdb.path="$state/prometheus" \
    --web.enable-lifecycle
  wait_for prometheus 60 "/-/ready" http_ok "$prometheus_port" /-/ready
fi

if starting prometheus-adapter; then
  echo "Starting prometheus-adapter on https://127.0.0.1:$adapter_port with $adapter_config (log: $state/prometheus-adapter.log)"
  # What it needs, as upstream's manifests grant it to its ServiceAccount: to read the pods and
  # namespaces it names metrics for, to delegate authentication and authorization to the API
  # server (TokenReviews, SubjectAccessReviews), and to read the extension-apiserver-authentication
  # ConfigMap, where it finds the client and front-proxy CAs. The HPA controller's own bootstrap
  # role already reads custom.metrics.k8s.io.
  "${kubectl[@]}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: prometheus-adapter
rules:
- apiGroups: [""]
  resources: [nodes, namespaces, pods, services]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: prometheus-adapter
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: prometheus-adapter}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prometheus-adapter}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: prometheus-adapter:system:auth-delegator
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prometheus-adapter}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: prometheus-adapter-auth-reader
  namespace: kube-system
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prometheus-adapter}
EOF
  # Series are relisted every 5 s (upstream: 10 min), so that a new worker's metrics are served
  # within seconds of their first scrape.
  start prometheus-adapter \
    --secure-port="$adapter_port" \
    --bind-address=127.0.0.1 \
    --tls-cert-file="$pki/prometheus-adapter.crt" \
    --tls-private-key-file="$pki/prometheus-adapter.key" \
    --lister-kubeconfig="$state/prometheus-adapter.kubeconfig" \
    --authentication-kubeconfig="$state/prometheus-adapter.kubeconfig" \
    --authorization-kubeconfig="$state/prometheus-adapter.kubeconfig" \
    --prometheus-url="http://127.0.0.1:$prometheus_port/" \
    --config="$adapter_config" \
    --metrics-relist-interval=5s \
    --metrics-max-age=1m
  wait_for prometheus-adapter 60 "/readyz" secure_healthz "$adapter_port" /readyz
  # The aggregator routes to a Service's endpoints (--enable-aggregator-routing), which it reads
  # from EndpointSlices. An IPv4 slice may not hold a loopback address, an FQDN slice may hold
  # any name: 127.0.0.1 as a name, which the API server dials as the address it is. The Service
  # has no selector, so no controller touches the slice.
  "${kubectl[@]}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: prometheus-adapter
  namespace: monitoring
spec:
  ports:
  - {name: https, port: 443, targetPort: $adapter_port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: prometheus-adapter
  namespace: monitoring
  labels:
    kubernetes.io/service-name: prometheus-adapter
    endpointslice.kubernetes.io/managed-by: moe-local-cluster
addressType: FQDN
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {ready: true}
ports:
- {name: https, port: $adapter_port, protocol: TCP}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.custom.metrics.k8s.io
spec:
  group: custom.metrics.k8s.io
  version: v1beta1
  service: {name: prometheus-adapter, namespace: monitoring, port: 443}
  caBundle: $(base64 -w0 "$pki/ca.crt")
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
  wait_for prometheus-adapter 60 "the custom metrics API (APIService v1beta1.custom.metrics.k8s.io Available)" \
    "${kubectl[@]}" get --raw /apis/custom.metrics.k8s.io/v1beta1
fi

trap - EXIT
echo "Local cluster ready: API server https://127.0.0.1:$port, state in $state"
echo "export KUBECONFIG=$kubeconfig"
