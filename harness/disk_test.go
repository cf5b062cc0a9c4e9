package harness

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	setcheck "github.com/zkchaos/zkchaos/checker/set"
	"github.com/zkchaos/zkchaos/cluster/local/diskfs"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/internal/runtest"
	"github.com/zkchaos/zkchaos/scenarios"
)

// runPowerLoss runs a shipped power-loss scenario, shortened, and returns
// its results' checks by checker name.
func runPowerLoss(t *testing.T, file string, timeLimit time.Duration) (checker.Result, map[string]checker.Result) {
	t.Helper()
	localtest.RequireZooKeeper(t)
	if err := diskfs.Probe(t.TempDir()); err != nil {
		t.Skipf("no FUSE here: %v", err)
	}
	return runShipped(t, file, timeLimit)
}

// runShipped runs a shipped scenario of disk faults, shortened, and returns
// its results' checks by checker name; the ensemble must recover.
func runShipped(t *testing.T, file string, timeLimit time.Duration) (checker.Result, map[string]checker.Result) {
	t.Helper()
	localtest.RequireZooKeeper(t)
	s, err := scenarios.Load(filepath.Join("..", "scenarios", file))
	require.NoError(t, err)
	s.Nemesis.Warmup = min(s.Nemesis.Warmup, 3*time.Second)
	s.Nemesis.Interval = min(s.Nemesis.Interval, 2*time.Second)
	s.Nemesis.Duration = min(s.Nemesis.Duration, 2*time.Second)
	s.TimeLimit = timeLimit
	s.Recovery = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := Run(ctx, Options{Scenario: s, OutDir: t.TempDir()})
	require.NoError(t, err)
	require.Empty(t, out.Results.Error)
	assert.Empty(t, localtest.Servers(t, out.Dir))
	checks := map[string]checker.Result{}
	for _, c := range out.Results.Check.Children {
		checks[c.Checker] = c
		for _, cc := range c.Children {
			checks[c.Checker+"/"+cc.Checker] = cc
		}
		t.Logf("%s: %s", c.Checker, c.Message)
	}
	assert.Equal(t, checker.Valid, checks["recovery"].Verdict, "%s", checks["recovery"].Message)
	return out.Results.Check, checks
}

// TestPowerLossKnownAnswers runs the two known answers of power loss side
// by side: with fsync, no acknowledged element is lost whoever loses power
// (one node, a minority, all); without it, the loss of every node at once
// loses acknowledged elements, and the set checker names them.
func TestPowerLossKnownAnswers(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	t.Run("set-power-loss", func(t *testing.T) {
		t.Parallel()
		check, checks := runPowerLoss(t, "set-power-loss.yaml", 14*time.Second)
		assert.Equal(t, checker.Valid, checks["set"].Verdict, "%s", checks["set"].Message)
		runtest.AssertValid(t, check)
	})
	t.Run("set-power-loss-nosync", func(t *testing.T) {
		t.Parallel()
		_, checks := runPowerLoss(t, filepath.Join("known-invalid", "set-power-loss-nosync.yaml"), 8*time.Second)
		assertLostNamed(t, checks)
	})
}

// assertLostNamed checks a positive control's verdict: the set checker
// invalid and naming lost elements, none invented, every add and final
// read completed, and the replicas agreeing on what is left, so that
// nothing is blamed on the harness.
func assertLostNamed(t *testing.T, checks map[string]checker.Result) {
	t.Helper()
	set := checks["set/set"]
	require.Equal(t, checker.Invalid, set.Verdict, "the positive control must be caught: %s", set.Message)
	details, ok := set.Details.(setcheck.Details)
	require.True(t, ok, "set evidence: %T", set.Details)
	lost := 0
	for _, n := range details.Nodes {
		lost += n.Lost.Count
		assert.Zero(t, n.Phantom.Count, "%s: nothing invented", n.Node)
	}
	assert.Positive(t, lost, "the set checker names lost elements")
	assert.Equal(t, checker.Valid, checks["set/stats"].Verdict, "adds and final reads completed: %s", checks["set/stats"].Message)
	conv, ok := checks["convergence"].Details.(convergence.Details)
	require.True(t, ok)
	assert.Zero(t, conv.DifferenceCount, "the replicas agree on what is left: %s", checks["convergence"].Message)
}
