#!/usr/bin/env bash
# Builds the local cluster's binaries from the upstream Go modules pinned here, once per set of
# pins, and installs kube-apiserver, etcd and kubectl where Fabric8's kube-api-test looks for
# binaries in offline mode.
#
#   go.mod                 kube-apiserver, kubectl, kube-controller-manager, kube-scheduler
#                          (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3)
#   cmd/kwok/go.mod        kwok (sigs.k8s.io/kwok): its own module, because its release needs
#                          client-go APIs of another Kubernetes minor
#   cmd/prometheus/go.mod  prometheus (github.com/prometheus/prometheus): its own module, its
#                          dependencies are far newer than Kubernetes' ones
#   cmd/prometheus-adapter/go.mod
#                          prometheus-adapter (sigs.k8s.io/prometheus-adapter): its own module,
#                          on the Kubernetes libraries of its release (v0.30)
#
# Environment (all optional):
#   MOE_LOCAL_CLUSTER_CACHE  base of the build cache
#                            (default ${XDG_CACHE_HOME:-$HOME/.cache}/moe-operator/local-cluster)
#   KUBE_API_TEST_DIR        kube-api-test's directory, as kube-api-test itself reads it
#                            (default ~/.kubeapitest of the account, as the JVM's user.home)
#   MOE_LOCAL_CLUSTER_FORCE  set to 1 to rebuild even when the cache holds the binaries
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v go >/dev/null || { echo "build.sh: go is not on PATH (Go >= 1.26.7 needed, for Prometheus)" >&2; exit 1; }

# The pins: one hash over every go.mod and go.sum, so the cache is reused while they do not change.
pin_hash="$(cat go.mod go.sum cmd/kwok/go.mod cmd/kwok/go.sum cmd/prometheus/go.mod cmd/prometheus/go.sum \
  cmd/prometheus-adapter/go.mod cmd/prometheus-adapter/go.sum | sha256sum | cut -c1-16)"
# module_field DIR MODULE TEMPLATE: a field of a pinned module, as `go list -m` reads it in DIR.
module_field() { (cd "$1" && go list -mod=readonly -m -f "$3" "$2"); }
time_format='{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}'
k8s_version="$(module_field . k8s.io/kubernetes '{{.Version}}')"   # e.g. v1.34.4
k8s_time="$(module_field . k8s.io/kubernetes "$time_format")"
etcd_version="$(module_field . go.etcd.io/etcd/server/v3 '{{.Version}}')"
kwok_version="$(module_field cmd/kwok sigs.k8s.io/kwok '{{.Version}}')"
prom_module_version="$(module_field cmd/prometheus github.com/prometheus/prometheus '{{.Version}}')"   # v0.316.0
prom_time="$(module_field cmd/prometheus github.com/prometheus/prometheus \
  '{{if .Time}}{{.Time.UTC.Format "20060102-15:04:05"}}{{end}}')"
adapter_version="$(module_field cmd/prometheus-adapter sigs.k8s.io/prometheus-adapter '{{.Version}}')"
semver="${k8s_version#v}"                  # 1.34.4
major="${semver%%.*}"
minor="${semver#*.}"; minor="${minor%%.*}"
# Prometheus 3.y.z is published as the Go module version v0.3yy.z (v0.316.0 is 3.16.0).
prom_version="$(sed -E 's/^v0\.3([0-9][0-9])\.([0-9]+)$/3.\1.\2/; s/^3\.0([0-9])/3.\1/' <<<"$prom_module_version")"

cache_base="${MOE_LOCAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/moe-operator/local-cluster}"
bin_dir="$cache_base/$pin_hash/bin"
k8s_binaries=(kube-apiserver kubectl etcd kube-controller-manager kube-scheduler)
binaries=("${k8s_binaries[@]}" kwok prometheus prometheus-adapter)

have_all() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

if [[ "${MOE_LOCAL_CLUSTER_FORCE:-0}" != 1 ]] && have_all; then
  echo "Using cached binaries in $bin_dir"
else
  # Upstream's own release builds stamp the version in through -X (hack/lib/version.sh); without
  # it the Kubernetes binaries would report v0.0.0-master. buildDate is the release's tag time
  # from the module proxy, so the build stays reproducible.
  xs=()
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    xs+=("-X" "$pkg.gitVersion=$k8s_version"
         "-X" "$pkg.gitMajor=$major"
         "-X" "$pkg.gitMinor=$minor"
         "-X" "$pkg.gitTreeState=clean")
    [[ -n "$k8s_time" ]] && xs+=("-X" "$pkg.buildDate=$k8s_time")
  done
  k8s_ldflags="-s ${xs[*]}"
  # Prometheus' release builds (.promu.yml) stamp github.com/prometheus/common/version the same
  # way; kwok keeps its version in its code (pkg/consts), so it needs none.
  prom_ldflags="-s -X github.com/prometheus/common/version.Version=$prom_version"
  [[ -n "$prom_time" ]] && prom_ldflags+=" -X github.com/prometheus/common/version.BuildDate=$prom_time"
  # Prometheus' own build tags: every service discovery but Kubernetes' (and the always-built
  # file and http ones) left out. Without the builtinassets tag the web UI is left out too; the
  # HTTP API (/api/v1/...) is all the dashboards' checks use.
  prom_tags=remove_all_sd,enable_kubernetes_sd

  mkdir -p "$cache_base"
  tmp="$(mktemp -d "$cache_base/.build-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "Building ${k8s_binaries[*]} ($k8s_version), etcd $etcd_version, kwok $kwok_version,"
  echo "prometheus $prom_version and prometheus-adapter $adapter_version into $bin_dir"
  echo "(first build: downloads the modules and compiles Kubernetes and Prometheus; takes minutes)"
  start=$SECONDS
  go mod download
  echo "  modules ready after $((SECONDS - start))s"
  # build DIR LDFLAGS TAGS NAME PACKAGE: builds one binary in the module at DIR.
  build() {
    (cd "$1" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$2" -tags="$3" -o "$tmp/$4" "$5")
    echo "  built $4 after $((SECONDS - start))s"
  }
  for b in "${k8s_binaries[@]}"; do build . "$k8s_ldflags" "" "$b" "./cmd/$b"; done
  build cmd/kwok "-s" "" kwok .
  # Upstream's cmd/prometheus is a 2,000-line package main: go.mod names it as a tool, so it is
  # built from the module as it is, not copied.
  build cmd/prometheus "$prom_ldflags" "$prom_tags" prometheus github.com/prometheus/prometheus/cmd/prometheus
  # The same for prometheus-adapter's cmd/adapter; upstream stamps no version into it.
  build cmd/prometheus-adapter "-s" "" prometheus-adapter sigs.k8s.io/prometheus-adapter/cmd/adapter
  mkdir -p "$bin_dir"
  for b in "${binaries[@]}"; do mv -f "$tmp/$b" "$bin_dir/$b"; done
  echo "Built in $((SECONDS - start))s"
fi

# kube-api-test (io.fabric8:kube-api-test) looks, in offline mode, in
#   ${KUBE_API_TEST_DIR:-~/.kubeapitest}/k8s/<major.minor.patch>-<os>-<arch>/{kube-apiserver,etcd,kubectl}
# (BinaryManager + Utils.platformSuffix; the version carries no leading "v"). Its ~ is the JVM's
# user.home, the account's home directory, whatever $HOME says.
goos="$(go env GOOS)"
goarch="$(go env GOARCH)"
account_home="$(getent passwd "$(id -u)" | cut -d: -f6)"
kat_dir="${KUBE_API_TEST_DIR:-${account_home:-$HOME}/.kubeapitest}"
install_dir="$kat_dir/k8s/$semver-$goos-$goarch"
mkdir -p "$install_dir"
for b in kube-apiserver etcd kubectl; do
  ln -sfn "$bin_dir/$b" "$install_dir/$b"
done

echo "Kubernetes version: $k8s_version (etcd $etcd_version, kwok $kwok_version, prometheus $prom_version,"
echo "                    prometheus-adapter $adapter_version)"
echo "Binaries:           $bin_dir"
echo "kube-api-test dir:  $install_dir (symlinks)"
echo "Use it offline with KUBE_API_TEST_OFFLINE_MODE=true and KUBE_API_TEST_API_SERVER_VERSION=$semver"
