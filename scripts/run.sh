#!/usr/bin/env bash
# Runs a scenario (default: scenarios/register-kill.yaml) on a local real
# ZooKeeper ensemble, installing ZooKeeper and Java first when missing.
# Extra arguments go to "zkchaos run", e.g. --time-limit 30s --seed 7.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/install-deps.sh
go build -o bin/zkchaos ./cmd/zkchaos
scenario=scenarios/register-kill.yaml
if [[ $# -gt 0 && $1 != -* ]]; then
	scenario=$1
	shift
fi
exec bin/zkchaos run "$scenario" "$@"
