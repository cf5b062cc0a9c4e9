package queue_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	queuecheck "github.com/zkchaos/zkchaos/checker/queue"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/queue"
)

// queueDetails returns the evidence of the queue checker in the tree under r.
func queueDetails(r checker.Result) (queuecheck.Details, bool) {
	if d, ok := r.Details.(queuecheck.Details); ok {
		return d, true
	}
	for _, c := range r.Children {
		if d, ok := queueDetails(c); ok {
			return d, true
		}
	}
	return queuecheck.Details{}, false
}

func TestQueueUnderKillsLosesNothingAndKeepsOrder(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load(filepath.Join("..", "..", "scenarios", "queue-kill.yaml"))
	require.NoError(t, err)
	s.TimeLimit = 20 * time.Second
	s.Recovery = 2 * time.Second
	s.Nemesis.Warmup = 3 * time.Second
	s.Nemesis.Interval = 3 * time.Second
	s.Nemesis.Duration = 4 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := harness.Run(ctx, harness.Options{Scenario: s, OutDir: t.TempDir(), Workload: queue.New(queue.Config{})})
	require.NoError(t, err)
	res := out.Results
	for _, c := range res.Check.Children {
		t.Logf("%s %s: %s", c.Checker, c.Verdict, c.Message)
	}
	// The verdict of this workload's checkers, then the run's.
	wl, ok := res.Check.Child("queue")
	require.True(t, ok, "the queue checkers ran")
	for _, c := range wl.Children {
		t.Logf("  %s %s: %s", c.Checker, c.Verdict, c.Message)
	}
	require.Equal(t, checker.Valid, wl.Verdict, "%s", wl.Message)
	runtest.AssertValid(t, res.Check)

	t.Logf("enqueues: %v, dequeues: %v, reads: %v",
		res.Counts[queuecheck.Enqueue], res.Counts[queuecheck.Dequeue], res.Counts[history.Read])
	assert.GreaterOrEqual(t, res.Counts[queuecheck.Enqueue][history.OK], 300, "enqueues must succeed between kills")
	assert.GreaterOrEqual(t, res.Counts[queuecheck.Dequeue][history.OK], 200, "dequeues must succeed between kills")
	assert.GreaterOrEqual(t, res.Counts[history.Read][history.OK], 3, "every node is read")

	d, ok := queueDetails(wl)
	require.True(t, ok, "the queue checker ran")
	require.Len(t, d.Nodes, 3)
	assert.Positive(t, d.Nodes[0].Present, "elements were left for the final reads and the drain")
	assert.GreaterOrEqual(t, d.Sequence.Creates, 300)

	read, err := history.ReadFile(filepath.Join(out.Dir, history.FileName))
	require.NoError(t, err)
	kills := 0
	var last history.Op
	for _, op := range read.Ops {
		if op.IsNemesis() && op.Type == history.Info && op.F == "kill" && op.Error == "" {
			kills++
		}
		if op.F == queuecheck.Dequeue && op.Type != history.Invoke {
			last = op
		}
	}
	assert.GreaterOrEqual(t, kills, 2, "nodes were killed")
	assert.Equal(t, queuecheck.Empty, last.Error, "the drain emptied the queue")
}
