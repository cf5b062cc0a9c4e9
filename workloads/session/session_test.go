package session_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	sessioncheck "github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/harness/harnesstest"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/nemesis"
	"github.com/zkchaos/zkchaos/nemesis/fault"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads/session"
)

// Clients cut off from their server for longer than the session timeout
// lose their sessions: their ephemeral nodes must vanish (seen by the other
// clients before the cut-off ones hear of it), and no other node may.
func TestEphemeralsLiveAndDieWithTheirSessions(t *testing.T) {
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Parse("session.yaml", "session", []byte("workload:\n  name: session\n"))
	require.NoError(t, err)
	s.Seed = 5
	s.TimeLimit = 15 * time.Second // one cut-off window (2 s to 9 s), then new sessions
	s.Recovery = 2 * time.Second
	s.Workload.Workers = 6
	s.Workload.Rate = 60
	s.Workload.OpTimeout = 5 * time.Second
	s.Workload.SessionTimeout = 4 * time.Second
	s.Nemesis.Faults = []nemesis.Spec{nemesis.Spec{Kind: fault.Clients, Target: nemesis.TargetOne}.Resolved()}
	s.Nemesis.Warmup = 2 * time.Second
	s.Nemesis.Interval = 4 * time.Second
	s.Nemesis.Duration = 7 * time.Second

	wl := session.New(session.Config{SessionTimeout: s.Workload.SessionTimeout})
	out := harnesstest.Run(t, harness.Options{Scenario: s, Workload: wl})
	res := out.Results
	details, _ := runtest.Details[sessioncheck.Details](res.Check)
	t.Logf("counts: %v", res.Counts)
	assert.Equal(t, checker.Valid, res.Verdict, "%s", res.Check.Message)
	assert.GreaterOrEqual(t, res.Counts[sessioncheck.Create][history.OK], 8, "every worker created a node, and again after expiry")
	assert.GreaterOrEqual(t, res.Counts[sessioncheck.Exists][history.OK], 300)

	expired := map[int64]bool{}
	for _, op := range runtest.Ops(t, out.Dir) {
		if op.F == sessioncheck.F && op.Event == sessioncheck.Expired {
			expired[op.Session] = true
		}
	}
	assert.GreaterOrEqual(t, len(expired), 2, "the cut-off clients' sessions expired")
	assert.GreaterOrEqual(t, details.ProvenAlive, 100, "checks while sessions provably lived")
	assert.GreaterOrEqual(t, details.AbsentAfterEnd, 1, "an expired session's node was seen gone")
	assert.GreaterOrEqual(t, details.AfterBound, 1, "checks after sessions had certainly ended")

	again, err := harness.Check(t.Context(), out.Dir)
	require.NoError(t, err)
	assert.Equal(t, res.Verdict, again.Verdict, "the verdict can be had again from the run directory")
}
