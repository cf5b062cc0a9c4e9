package set_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	setcheck "github.com/zkchaos/zkchaos/checker/set"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/harness/harnesstest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/set"
)

func TestAcknowledgedAddsSurvivePartitionsOnEveryNode(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load(filepath.Join("..", "..", "scenarios", "set-partition.yaml"))
	require.NoError(t, err)
	s.TimeLimit = 20 * time.Second
	s.Recovery = 2 * time.Second
	s.Nemesis.Warmup = 3 * time.Second
	s.Nemesis.Interval = 3 * time.Second
	s.Nemesis.Duration = 5 * time.Second

	out := harnesstest.Run(t, harness.Options{Scenario: s, Workload: set.New(set.Config{})})
	res := out.Results
	wl := runtest.RequireWorkloadValid(t, res.Check, "set")

	okAdds := res.Counts[setcheck.Add][history.OK]
	t.Logf("adds: %v, reads: %v", res.Counts[setcheck.Add], res.Counts[history.Read])
	assert.GreaterOrEqual(t, okAdds, 300, "adds must succeed outside the partitions")
	assert.GreaterOrEqual(t, res.Counts[history.Read][history.OK], 3, "every node is read")

	d, ok := runtest.Details[setcheck.Details](wl)
	require.True(t, ok, "the set checker ran")
	require.Len(t, d.Nodes, 3)
	for _, n := range d.Nodes {
		assert.GreaterOrEqual(t, n.Present, okAdds, "node %s holds every acknowledged add", n.Node)
	}
	assert.GreaterOrEqual(t, d.Sequence.Creates, okAdds/4, "about half the adds are sequential")

	ops := runtest.Ops(t, out.Dir)
	errs := map[string]int{}
	snapshots := map[string]map[string]string{}
	for _, op := range ops {
		if op.F == history.FSnapshot {
			require.Empty(t, op.Error, "snapshot of %s", op.Node)
			snapshots[op.Node] = op.Snapshot
		}
		if op.F == setcheck.Add && (op.Type == history.Fail || op.Type == history.Info) {
			errs[string(op.Type)+": "+op.Error]++
		}
	}
	t.Logf("adds that did not complete ok, by error: %v", errs)
	assert.GreaterOrEqual(t, runtest.Faults(ops)["partition"], 1, "the network was partitioned")

	// The snapshots the convergence checker compares walk every znode of
	// every node, many reads at a time: each holds the root and every
	// element the set checker found, and they agree.
	require.Len(t, snapshots, 3)
	for _, n := range d.Nodes {
		snap := snapshots[n.Node]
		elements := 0
		for p := range snap {
			if strings.HasPrefix(p, set.Root+"/") {
				elements++
			}
		}
		assert.Contains(t, snap, set.Root)
		assert.Equal(t, n.Present, elements, "%s: the znode of every element the final read found", n.Node)
		assert.Equal(t, snapshots[d.Nodes[0].Node], snap, "%s agrees with %s", n.Node, d.Nodes[0].Node)
	}
}
