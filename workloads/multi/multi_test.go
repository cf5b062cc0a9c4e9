package multi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker/transactions"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/harness/harnesstest"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads"
	"github.com/zkchaos/zkchaos/workloads/multi"
)

func TestTooFewKeysIsAnError(t *testing.T) {
	env := workloads.Env{Nodes: []cluster.Node{{Name: "n1", ClientAddr: "127.0.0.1:1"}}, Workers: 2}
	ctx := context.Background()
	wl := multi.New(multi.Config{Keys: 1})
	assert.ErrorContains(t, wl.Setup(ctx, env), "keys must be at least 2")
	assert.ErrorContains(t, wl.Run(ctx, env, nil), "keys must be at least 2")
	assert.ErrorContains(t, wl.FinalReads(ctx, env, nil, 100), "keys must be at least 2")
}

func TestTransactionsAreAllOrNothingUnderPartitions(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Parse("multi-test.yaml", "multi-test", []byte(`
seed: 5
time-limit: 18s
recovery: 2s
workload:
  name: multi
  keys: 4
  workers: 6
  rate: 120
  op-timeout: 4s
  session-timeout: 6s
nemesis:
  faults:
    - {name: partition, grudge: halves, mode: reset}
  interval: 4s
  duration: 4s
`))
	require.NoError(t, err)

	out := harnesstest.Run(t, harness.Options{Scenario: s, Workload: multi.New(multi.Config{Keys: s.Workload.Keys})})
	res := out.Results
	runtest.RequireWorkloadValid(t, res.Check, "multi")

	r := runtest.Find(t, res.Check, "transactions")
	d, ok := r.Details.(transactions.Details)
	require.True(t, ok)
	t.Logf("ops: %v; transactions: %s", res.Counts, r.Message)
	assert.GreaterOrEqual(t, d.TxnOK, 200, "transactions must commit")
	assert.GreaterOrEqual(t, d.TxnFail, 10, "version checks must sometimes fail")
	assert.GreaterOrEqual(t, d.Snapshots, 100, "snapshots must be confirmed")
	assert.GreaterOrEqual(t, d.AtomicityChecks, 500)
	assert.Zero(t, d.Malformed)

	// The network was really split, and healed.
	faults := runtest.Faults(runtest.Ops(t, out.Dir))
	parts, heals := faults["partition"], faults["heal"]
	assert.GreaterOrEqual(t, parts, 2)
	assert.GreaterOrEqual(t, heals, parts, "every partition is healed")
}
