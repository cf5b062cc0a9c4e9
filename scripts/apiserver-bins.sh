#!/usr/bin/env bash
# Builds etcd and kube-apiserver from the Go module proxy (module
# tools/apiserver) and prints the directory that holds them, ready for
# controller-runtime's envtest (KUBEBUILDER_ASSETS). The binaries are cached
# under the user's cache directory, keyed by their versions: a cold build
# takes a quarter of an hour on two cores, a warm call returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

mod=tools/apiserver
kube=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$mod/go.mod")
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "$mod/go.mod")
if [[ -z $kube || -z $etcd ]]; then
	echo "$mod/go.mod: cannot read the k8s.io/kubernetes and go.etcd.io/etcd/server/v3 versions" >&2
	exit 1
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/zkchaos/apiserver
dir=$cache/kubernetes-$kube-etcd-$etcd
if [[ -x $dir/kube-apiserver && -x $dir/etcd ]]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
major=${kube#v}
major=${major%%.*}
minor=${kube#v*.}
minor=${minor%%.*}
version_pkg=k8s.io/component-base/version
ldflags="-s -w -X $version_pkg.gitVersion=$kube -X $version_pkg.gitMajor=$major -X $version_pkg.gitMinor=$minor -X $version_pkg.gitTreeState=clean"
echo "building kube-apiserver $kube and etcd $etcd into $dir (a cold build takes about 15 minutes)" >&2
start=$SECONDS
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" ./kube-apiserver)
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" ./etcd)
echo "built in $((SECONDS - start)) s" >&2
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
