#!/usr/bin/env bash
# Runs the whole test suite: static checks, unit tests with the race
# detector, then the tests that start real ZooKeeper ensembles, one package at
# a time (two JVM ensembles at once would fight for the two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/install-deps.sh --test
# The browser test of the report keeps its screenshots here.
export ZKCHAOS_ARTIFACTS=${ZKCHAOS_ARTIFACTS:-$PWD/runs/test-artifacts}

# Each phase line says how long the suite has run, to see where the time goes.
phase() { echo "== [$(date -u +%H:%M:%S), ${SECONDS}s] $*"; }

phase "gofmt and go vet"
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	echo "gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

# The race detector checks every package but the ZooKeeper client library:
# go-zookeeper v1.0.4 (the newest release) reads Conn.lastZxid in
# sendSetWatches while recvLoop writes it, when a session with watches
# reconnects (go-zookeeper/zk#35, unmerged). The race is the library's own
# and benign (a slightly older zxid in SET_WATCHES), but it would fail any
# test whose watches outlive a killed server.
race=(-race -gcflags=github.com/go-zookeeper/zk=-race=false)

# The Kubernetes backend's tests run a real kube-apiserver and etcd, built
# from the Go module proxy once and cached under the user's cache directory.
phase "API server binaries for the Kubernetes tests"
KUBEBUILDER_ASSETS=$(bash scripts/apiserver-bins.sh)
export KUBEBUILDER_ASSETS

# The packages that start real ensembles run whole below, their unit tests
# included; the unit phase runs every other package.
ensemble_pkgs=$(go list ./cluster/... ./workloads/... ./harness/... ./cmd/... | grep -v /k8stest)
unit_pkgs=$(go list ./... | grep -vxF "$ensemble_pkgs")

phase "unit tests (-short, -race)"
go test "${race[@]}" -short -count=1 $unit_pkgs

# The tests that need only an API server (no ZooKeeper) use little CPU once
# it is up: they run in the background beside the ensembles, and their
# output follows. cluster/k8s forwards to a real ensemble: it runs in turn.
phase "API-server tests (in the background) and real-ensemble tests (-race, one package at a time)"
api_log=$(mktemp)
trap 'rm -f "$api_log"' EXIT
go test "${race[@]}" -p 1 -count=1 -timeout 15m ./cluster/k8s/k8stest/ ./deploy/... >"$api_log" 2>&1 &
api_pid=$!
# Each workload package runs its ensemble tests one at a time: two of those
# packages at once make two ensembles at once, as the parallel tests of the
# other packages do.
workload_pkgs=$(go list ./workloads/...)
ensemble_status=0
go test "${race[@]}" -p 1 -count=1 -timeout 30m $(grep -vxF "$workload_pkgs" <<<"$ensemble_pkgs") || ensemble_status=$?
go test "${race[@]}" -p 2 -count=1 -timeout 30m $workload_pkgs || ensemble_status=$?
api_status=0
wait "$api_pid" || api_status=$?
echo "-- API-server tests"
cat "$api_log"
phase "done"
if ((ensemble_status != 0 || api_status != 0)); then
	echo "real-ensemble tests exit $ensemble_status, API-server tests exit $api_status" >&2
	exit 1
fi
