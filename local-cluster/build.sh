#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the upstream Go modules pinned in go.mod, once per
# set of pins, and installs them where Fabric8's kube-api-test looks for binaries in offline mode.
#
# Environment (all optional):
#   MOE_LOCAL_CLUSTER_CACHE  base of the build cache
#                            (default ${XDG_CACHE_HOME:-$HOME/.cache}/moe-operator/local-cluster)
#   KUBE_API_TEST_DIR        kube-api-test's directory, as kube-api-test itself reads it
#                            (default $HOME/.kubeapitest)
#   MOE_LOCAL_CLUSTER_FORCE  set to 1 to rebuild even when the cache holds the binaries
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v go >/dev/null || { echo "build.sh: go is not on PATH (Go >= 1.24 needed)" >&2; exit 1; }

# The pins: one hash over go.mod and go.sum, so the cache is reused while they do not change.
pin_hash="$(cat go.mod go.sum | sha256sum | cut -c1-16)"
k8s_version="$(go list -mod=readonly -m -f '{{.Version}}' k8s.io/kubernetes)"   # e.g. v1.34.4
etcd_version="$(go list -mod=readonly -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
k8s_time="$(go list -mod=readonly -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
semver="${k8s_version#v}"                  # 1.34.4
major="${semver%%.*}"
minor="${semver#*.}"; minor="${minor%%.*}"

cache_base="${MOE_LOCAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/moe-operator/local-cluster}"
bin_dir="$cache_base/$pin_hash/bin"
binaries=(kube-apiserver kubectl etcd)

have_all() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

if [[ "${MOE_LOCAL_CLUSTER_FORCE:-0}" != 1 ]] && have_all; then
  echo "Using cached binaries in $bin_dir"
else
  # Upstream's own release builds stamp the version in through -X (hack/lib/version.sh); without
  # it kube-apiserver and kubectl would report v0.0.0-master. buildDate is the release's tag time
  # from the module proxy, so the build stays reproducible.
  xs=()
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    xs+=("-X" "$pkg.gitVersion=$k8s_version"
         "-X" "$pkg.gitMajor=$major"
         "-X" "$pkg.gitMinor=$minor"
         "-X" "$pkg.gitTreeState=clean")
    [[ -n "$k8s_time" ]] && xs+=("-X" "$pkg.buildDate=$k8s_time")
  done
  ldflags="-s ${xs[*]}"

  mkdir -p "$cache_base"
  tmp="$(mktemp -d "$cache_base/.build-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "Building kube-apiserver, kubectl ($k8s_version) and etcd ($etcd_version) into $bin_dir"
  echo "(first build: downloads the modules and compiles Kubernetes; takes minutes)"
  start=$SECONDS
  go mod download
  echo "  modules ready after $((SECONDS - start))s"
  for b in "${binaries[@]}"; do
    CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp/$b" "./cmd/$b"
    echo "  built $b after $((SECONDS - start))s"
  done
  mkdir -p "$bin_dir"
  for b in "${binaries[@]}"; do mv -f "$tmp/$b" "$bin_dir/$b"; done
  echo "Built in $((SECONDS - start))s"
fi

# kube-api-test (io.fabric8:kube-api-test) looks, in offline mode, in
#   ${KUBE_API_TEST_DIR:-~/.kubeapitest}/k8s/<major.minor.patch>-<os>-<arch>/{kube-apiserver,etcd,kubectl}
# (BinaryManager + Utils.platformSuffix; the version carries no leading "v").
goos="$(go env GOOS)"
goarch="$(go env GOARCH)"
kat_dir="${KUBE_API_TEST_DIR:-$HOME/.kubeapitest}"
install_dir="$kat_dir/k8s/$semver-$goos-$goarch"
mkdir -p "$install_dir"
for b in "${binaries[@]}"; do
  ln -sfn "$bin_dir/$b" "$install_dir/$b"
done

echo "Kubernetes version: $k8s_version (etcd $etcd_version)"
echo "Binaries:           $bin_dir"
echo "kube-api-test dir:  $install_dir (symlinks)"
echo "Use it offline with KUBE_API_TEST_OFFLINE_MODE=true and KUBE_API_TEST_API_SERVER_VERSION=$semver"
