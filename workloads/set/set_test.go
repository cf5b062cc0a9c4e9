package set_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	setcheck "github.com/zkchaos/zkchaos/checker/set"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/set"
)

// setDetails returns the evidence of the set checker in the tree under r.
func setDetails(r checker.Result) (setcheck.Details, bool) {
	if d, ok := r.Details.(setcheck.Details); ok {
		return d, true
	}
	for _, c := range r.Children {
		if d, ok := setDetails(c); ok {
			return d, true
		}
	}
	return setcheck.Details{}, false
}

func TestAcknowledgedAddsSurvivePartitionsOnEveryNode(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load(filepath.Join("..", "..", "scenarios", "set-partition.yaml"))
	require.NoError(t, err)
	s.TimeLimit = 20 * time.Second
	s.Recovery = 2 * time.Second
	s.Nemesis.Warmup = 3 * time.Second
	s.Nemesis.Interval = 3 * time.Second
	s.Nemesis.Duration = 5 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := harness.Run(ctx, harness.Options{Scenario: s, OutDir: t.TempDir(), Workload: set.New(set.Config{})})
	require.NoError(t, err)
	res := out.Results
	for _, c := range res.Check.Children {
		t.Logf("%s %s: %s", c.Checker, c.Verdict, c.Message)
	}
	// The verdict of this workload's checkers, then the run's.
	wl, ok := res.Check.Child("set")
	require.True(t, ok, "the set checkers ran")
	for _, c := range wl.Children {
		t.Logf("  %s %s: %s", c.Checker, c.Verdict, c.Message)
	}
	require.Equal(t, checker.Valid, wl.Verdict, "%s", wl.Message)
	runtest.AssertValid(t, res.Check)

	okAdds := res.Counts[setcheck.Add][history.OK]
	t.Logf("adds: %v, reads: %v", res.Counts[setcheck.Add], res.Counts[history.Read])
	assert.GreaterOrEqual(t, okAdds, 300, "adds must succeed outside the partitions")
	assert.GreaterOrEqual(t, res.Counts[history.Read][history.OK], 3, "every node is read")

	d, ok := setDetails(wl)
	require.True(t, ok, "the set checker ran")
	require.Len(t, d.Nodes, 3)
	for _, n := range d.Nodes {
		assert.GreaterOrEqual(t, n.Present, okAdds, "node %s holds every acknowledged add", n.Node)
	}
	assert.GreaterOrEqual(t, d.Sequence.Creates, okAdds/4, "about half the adds are sequential")

	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	partitions := 0
	errs := map[string]int{}
	snapshots := map[string]map[string]string{}
	for _, op := range read.Ops {
		if op.IsNemesis() && op.Type == history.Info && op.F == "partition" && op.Error == "" {
			partitions++
		}
		if op.F == history.FSnapshot {
			require.Empty(t, op.Error, "snapshot of %s", op.Node)
			snapshots[op.Node] = op.Snapshot
		}
		if op.F == setcheck.Add && (op.Type == history.Fail || op.Type == history.Info) {
			errs[string(op.Type)+": "+op.Error]++
		}
	}
	t.Logf("adds that did not complete ok, by error: %v", errs)
	assert.GreaterOrEqual(t, partitions, 1, "the network was partitioned")

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
