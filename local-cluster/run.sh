#!/usr/bin/env bash
# The whole system on this machine, from nothing but this repository, a JDK 25 and Go:
# a real Kubernetes control plane built from source (up.sh), a process node whose pods run as
# local processes, the operator installed by the Helm chart, the example model's eight workers
# serving OpenAI requests through the model's Service, whose routing shifts from DeepSeek-V3's
# measured decode load to its prefill load, Prometheus scraping it all (and prometheus-adapter
# serving the custom metrics API), and the operator's rebalance. Ctrl-C stops every process it started; a second
# run starts clean.
#
# Usage: local-cluster/run.sh [--scale] [-- OPTIONS]
#   (default)  the demo: report, plot and dashboard check under $MOE_LOCAL_CLUSTER_STATE/demo;
#              OPTIONS go to `local-cluster demo` (--decode 60s, --after-rebalance 45s, --exit, ...)
#   --scale    the scale scenario: 18 kwok nodes x 8 GPUs, DeepSeek-V3 on 144 GPUs;
#              OPTIONS go to `local-cluster scale`
# Environment: MOE_SKIP_BUILD=1 uses the jars already built; up.sh's MOE_LOCAL_CLUSTER_* variables.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "run.sh: error: $*" >&2; exit 2; }

scenario=demo
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scale) scenario=scale ;;
    --) shift; break ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (usage: run.sh [--scale] [-- OPTIONS])" ;;
  esac
  shift
done

JAVA_HOME="$("$repo/scripts/java-home" 25)" || die "no JDK 25 found (see the README's prerequisites)"
export JAVA_HOME
jar="$repo/local-cluster/target/local-cluster.jar"
if [[ -z "${MOE_SKIP_BUILD:-}" ]]; then
  echo "building the jars (./mvnw -B -q package -DskipTests -pl operator,local-cluster -am) ..."
  (cd "$repo" && ./mvnw -B -q package -DskipTests -pl operator,local-cluster -am) || die "the build failed (output above)"
fi
for f in "$jar" "$repo/worker-runtime/target/worker-runtime.jar" "$repo/operator/target/quarkus-app/quarkus-run.jar"; do
  [[ -f "$f" ]] || die "$f is missing: run without MOE_SKIP_BUILD, or ./mvnw -B package -DskipTests"
done

state="${MOE_LOCAL_CLUSTER_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/moe-operator/local-cluster}"
export MOE_LOCAL_CLUSTER_STATE="$state"
prometheus_url="http://127.0.0.1:${MOE_LOCAL_CLUSTER_PROMETHEUS_PORT:-9090}"

# A cluster left by an earlier run is stopped first: every run starts from an empty state dir.
"$here/down.sh" >/dev/null 2>&1 || true
config="$(mktemp "${TMPDIR:-/tmp}/moe-prometheus.XXXXXX.yml")"
trap '"$here/down.sh" || true; rm -f "$config"' EXIT
sed "s#@KUBECONFIG@#$state/kubeconfig#" "$here/config/prometheus.yml" >"$config"
up=("$here/up.sh" --prometheus "$config")
# The demo's workers serve requests, so their serving metrics reach the custom metrics API (kubectl get --raw
# /apis/custom.metrics.k8s.io/v1beta1, an HPA); kwok's pods export none.
[[ "$scenario" == demo ]] && up+=(--prometheus-adapter "$here/config/prometheus-adapter.yaml")
[[ "$scenario" == scale ]] && up+=(--kwok)
"${up[@]}"

args=("$scenario" --kubeconfig "$state/kubeconfig" --state-dir "$state" --repo "$repo")
[[ "$scenario" == demo ]] && args+=(--prometheus "$prometheus_url")
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$jar" "${args[@]}" "$@"
