package compare

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

func TestBuildComparesPerScenarioAndOverall(t *testing.T) {
	ms := time.Millisecond
	a := Side{Source: "debian", Runs: []Run{
		testRun("a/1", "smoke", 7, checker.Valid, "ok", 10*ms, 100*ms),
		testRun("a/2", "smoke", 8, checker.Valid, "ok", 20*ms, 300*ms),
		testRun("a/3", "smoke", 9, checker.Valid, "ok", 30*ms, 200*ms),
	}}
	failed := testRun("b/4", "smoke", 10, checker.Unknown, "", 0, 0)
	failed.Results.Error = "start ensemble: timeout"
	failed.Results.Check = checker.Result{}
	b := Side{Source: "debian=3.8.0-11+deb12u1", Runs: []Run{
		testRun("b/1", "smoke", 7, checker.Valid, "ok", 40*ms, 100*ms),
		testRun("b/2", "smoke", 8, checker.Unknown, "ran out of time", 50*ms, 100*ms),
		testRun("b/3", "smoke", 9, checker.Invalid, "key k1 is not linearizable", 60*ms, 100*ms),
		failed,
	}}
	rep := Build(a, b, Thresholds{})

	assert.True(t, rep.Regression)
	assert.Equal(t, 3, rep.A.Runs)
	assert.Equal(t, 3, rep.B.Runs)
	assert.Equal(t, 1, rep.B.Skipped)
	assert.Equal(t, []string{"debian"}, rep.B.Distributions)
	require.Len(t, rep.Summary, 2)
	assert.Equal(t, "B is worse than A: 1 regression(s), over 3 run(s) of A and 3 of B.", rep.Summary[0])
	assert.Equal(t, "B is worse on correctness in smoke: register/linearizable invalid in 1/3 runs vs 0/3.", rep.Summary[1])
	assert.Contains(t, rep.Notes, "B run b/4 (smoke seed 10) is left out: harness error: start ensemble: timeout.")
	assert.Contains(t, rep.Notes, "B had more unknown verdicts in smoke: register/linearizable unknown in 1/3 runs vs 0/3 (unknown is not invalid and decides nothing).")

	require.Len(t, rep.Scenarios, 1)
	c := rep.Scenarios[0]
	var paths []string
	for _, row := range c.Checkers {
		paths = append(paths, row.Path)
	}
	assert.Equal(t, []string{RootPath, "register", "register/linearizable", "register/sequential", "recovery"}, paths)
	lin := c.Checkers[2]
	assert.Equal(t, VerdictCounts{Runs: 3, Valid: 3}, lin.A)
	assert.Equal(t, 1, lin.B.Invalid)
	assert.Equal(t, 1, lin.B.Unknown)
	assert.InDelta(t, 1.0/3, lin.B.AnomalyRate, 1e-9)
	require.NotNil(t, lin.B.Example, "the invalid run is the example, even after an unknown one")
	assert.Equal(t, "b/3", lin.B.Example.Dir)
	assert.Equal(t, "key k1 is not linearizable", lin.B.Example.Message)

	assert.Equal(t, 3*time.Second, c.A.Unavailable)
	assert.Equal(t, time.Second, c.A.UnavailablePerRun)
	assert.InDelta(t, 90.0, c.A.Availability, 1e-9)
	assert.InDelta(t, 100.0, c.B.OpsPerSecond, 1e-9)

	require.Len(t, c.Faults, 1)
	kill := c.Faults[0]
	assert.Equal(t, fault.Kill, kill.Kind)
	assert.Equal(t, 3, kill.A.Windows, "windows whose injection failed are left out")
	assert.Equal(t, 200*ms, kill.A.RecoveredMedian)
	assert.Equal(t, 300*ms, kill.A.RecoveredMax)
	assert.Equal(t, 3, kill.A.Elections, "the servers' new leader, from the recovery checker, by the summary's kind")
	assert.Equal(t, 500*ms, kill.A.NewLeaderMedian)

	require.Len(t, c.Latency, 1, "only operations with ok completions")
	read := c.Latency[0]
	assert.Equal(t, "read", read.Op)
	assert.Equal(t, LatencyStats{Runs: 3, Count: 300, P50: 2 * ms, P90: 10 * ms, P99: 20 * ms}, read.A,
		"the median over runs of each run's quantile")
	assert.Equal(t, 50*ms, read.B.P99)

	assert.Equal(t, 3, rep.Overall.A.Runs)
	assert.Len(t, rep.Runs, 7)
	assert.Equal(t, "harness error: start ensemble: timeout", rep.Runs[6].Skipped)
}

func TestBuildWithoutRegressionSaysWhatWasJudged(t *testing.T) {
	ms := time.Millisecond
	a := Side{Runs: []Run{testRun("a/1", "smoke", 7, checker.Invalid, "stale", 10*ms, 100*ms)}}
	b := Side{Runs: []Run{testRun("b/1", "smoke", 7, checker.Valid, "ok", 10*ms, 100*ms)}}
	rep := Build(a, b, Thresholds{Availability: new(25.0), Latency: new(50.0)})
	assert.False(t, rep.Regression)
	assert.Equal(t, []string{
		"No regression: B is not worse than A on correctness, availability and recovery (limit 25%) or p99 latency (limit 50%), over 1 run(s) of A and 1 of B.",
		"B is better on correctness in smoke: register/linearizable invalid in 0/1 runs vs 1/1.",
	}, rep.Summary)
}

func TestBuildNotesScenariosRunOnOneSideOnly(t *testing.T) {
	a := Side{Runs: []Run{testRun("a/1", "smoke", 7, checker.Valid, "", time.Millisecond, time.Millisecond)}}
	b := Side{Runs: []Run{testRun("b/1", "register-kill", 1, checker.Valid, "", time.Millisecond, time.Millisecond)}}
	rep := Build(a, b, Thresholds{})
	assert.False(t, rep.Regression)
	assert.Contains(t, rep.Notes, "register-kill has runs in B only (1); its checkers are compared with none in A.")
	assert.Contains(t, rep.Notes, "smoke has runs in A only (1); B was not tested on it.")
	assert.Len(t, rep.Scenarios, 2)
}
