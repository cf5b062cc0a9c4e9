#!/usr/bin/env bash
# Generates the Chaos Mesh CRDs that cluster/k8s/k8stest installs into its API
# server, from the exact github.com/chaos-mesh/chaos-mesh/api version that
# go.mod requires, with controller-gen from sigs.k8s.io/controller-tools.
# controller-gen is built once from the Go module proxy and cached under the
# user's cache directory, keyed by its version.
#
# The output (cluster/k8s/k8stest/crds/: one YAML per CRD, as controller-gen
# writes them, and VERSION naming the api module version they come from) is
# checked in; running this script again regenerates it byte for byte. Rerun
# it after bumping the api module in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

tools_version=v0.18.0
api=github.com/chaos-mesh/chaos-mesh/api
dest=cluster/k8s/k8stest/crds

cache=${XDG_CACHE_HOME:-$HOME/.cache}/zkchaos/controller-gen/$tools_version
gen=$cache/controller-gen
if [[ ! -x $gen ]]; then
	echo "building controller-gen $tools_version into $cache" >&2
	mkdir -p "$(dirname "$cache")"
	bin=$(mktemp -d "$(dirname "$cache")/.build-XXXXXX")
	trap 'rm -rf "$bin"' EXIT
	# Outside the main module, so that its go.mod plays no part.
	(cd "$bin" && GOBIN="$bin" GOFLAGS=-buildvcs=false go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$tools_version")
	rm -rf "$cache"
	mv "$bin" "$cache"
	trap - EXIT
fi

version=$(awk -v m="$api" '$1 == m {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' go.mod)
if [[ -z $version ]]; then
	echo "chaos-crds: go.mod does not require $api" >&2
	exit 1
fi

# The module cache is read-only, and controller-gen loads packages relative to
# its working directory: work on a writable copy of the api module, which is
# a module of its own with its go.mod and go.sum.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$(cd "$tmp" && go mod download -json "$api@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [[ -z $src || ! -d $src/v1alpha1 ]]; then
	echo "chaos-crds: cannot download $api@$version" >&2
	exit 1
fi
cp -R "$src" "$tmp/api"
chmod -R u+w "$tmp/api"
mkdir "$tmp/out"
echo "generating the CRDs of $api $version with controller-gen $tools_version" >&2
# v1 CRDs; allowDangerousTypes admits the float fields
# that some chaos specs use.
(cd "$tmp/api" && GOFLAGS=-mod=readonly "$gen" \
	"crd:crdVersions=v1,allowDangerousTypes=true" \
	paths=./v1alpha1/... \
	output:crd:artifacts:config="$tmp/out")

mkdir -p "$dest"
rm -f "$dest"/*.yaml
cp "$tmp"/out/*.yaml "$dest"/
echo "$api $version" >"$dest/VERSION"
echo "wrote $(ls "$dest"/*.yaml | wc -l) CRDs into $dest" >&2
