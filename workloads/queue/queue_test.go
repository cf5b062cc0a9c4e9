package queue_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	queuecheck "github.com/zkchaos/zkchaos/checker/queue"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/harness/harnesstest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/queue"
)

func TestQueueUnderKillsLosesNothingAndKeepsOrder(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load(filepath.Join("..", "..", "scenarios", "queue-kill.yaml"))
	require.NoError(t, err)
	s.TimeLimit = 20 * time.Second
	s.Recovery = 2 * time.Second
	s.Nemesis.Warmup = 3 * time.Second
	s.Nemesis.Interval = 3 * time.Second
	s.Nemesis.Duration = 4 * time.Second

	out := harnesstest.Run(t, harness.Options{Scenario: s, Workload: queue.New(queue.Config{})})
	res := out.Results
	wl := runtest.RequireWorkloadValid(t, res.Check, "queue")

	t.Logf("enqueues: %v, dequeues: %v, reads: %v",
		res.Counts[queuecheck.Enqueue], res.Counts[queuecheck.Dequeue], res.Counts[history.Read])
	assert.GreaterOrEqual(t, res.Counts[queuecheck.Enqueue][history.OK], 300, "enqueues must succeed between kills")
	assert.GreaterOrEqual(t, res.Counts[queuecheck.Dequeue][history.OK], 200, "dequeues must succeed between kills")
	assert.GreaterOrEqual(t, res.Counts[history.Read][history.OK], 3, "every node is read")

	d, ok := runtest.Details[queuecheck.Details](wl)
	require.True(t, ok, "the queue checker ran")
	require.Len(t, d.Nodes, 3)
	assert.Positive(t, d.Nodes[0].Present, "elements were left for the final reads and the drain")
	assert.GreaterOrEqual(t, d.Sequence.Creates, 300)

	ops := runtest.Ops(t, out.Dir)
	var last history.Op
	for _, op := range ops {
		if op.F == queuecheck.Dequeue && op.Type != history.Invoke {
			last = op
		}
	}
	assert.GreaterOrEqual(t, runtest.Faults(ops)["kill"], 2, "nodes were killed")
	assert.Equal(t, queuecheck.Empty, last.Error, "the drain emptied the queue")
}
