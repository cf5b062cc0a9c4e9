package lock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	lockcheck "github.com/zkchaos/zkchaos/checker/lock"
	"github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/harness/harnesstest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/nemesis"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/lock"
)

func TestLockHoldersExcludeEachOtherUnderLeaderKills(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Parse("lock.yaml", "lock", []byte("workload:\n  name: lock\n"))
	require.NoError(t, err)
	s.Seed = 3
	s.TimeLimit = 16 * time.Second
	s.Recovery = 2 * time.Second
	s.Workload.Workers = 5
	s.Workload.Rate = 100
	s.Workload.Hold = 50 * time.Millisecond
	s.Workload.OpTimeout = 4 * time.Second
	s.Workload.SessionTimeout = 6 * time.Second
	s.Nemesis.Faults = []nemesis.Spec{nemesis.Spec{Kind: "kill-leader"}.Resolved()}
	s.Nemesis.Warmup = 3 * time.Second
	s.Nemesis.Interval = 4 * time.Second
	s.Nemesis.Duration = 3 * time.Second

	out := harnesstest.Run(t, harness.Options{Scenario: s, Workload: lock.New(lock.Config{Hold: s.Workload.Hold})})
	res := out.Results
	t.Logf("counts: %v", res.Counts)
	assert.Equal(t, checker.Valid, res.Verdict, "%s", res.Check.Message)
	assert.GreaterOrEqual(t, res.Counts[lockcheck.Acquire][history.OK], 20, "the lock was taken")
	assert.GreaterOrEqual(t, res.Counts[lockcheck.Release][history.OK], 20, "and given back")

	ops := runtest.Ops(t, out.Dir)
	disconnects := 0
	for _, op := range ops {
		if op.F == session.F && op.Event == session.Disconnected {
			disconnects++
		}
	}
	assert.GreaterOrEqual(t, runtest.Faults(ops)["kill"], 2, "the leader was killed")
	assert.GreaterOrEqual(t, disconnects, 1, "clients saw their server go")

	// The verdict can be had again from the run directory alone.
	again, err := harness.Check(t.Context(), out.Dir)
	require.NoError(t, err)
	t.Logf("recheck: %s %s", again.Verdict, again.Check.Message)
}
