package compare

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// checkTree is the result tree of a register run whose linearizability
// checker found lin (with msg); every other checker is valid.
func checkTree(lin checker.Verdict, msg string) checker.Result {
	linR := checker.Result{Checker: "linearizable", Verdict: lin, Message: msg}
	seq := checker.Result{Checker: "sequential", Verdict: checker.Valid, Message: "sequentially consistent"}
	reg := checker.Result{Checker: "register", Verdict: checker.Worst(lin, checker.Valid), Children: []checker.Result{linR, seq}}
	rec := checker.Result{Checker: "recovery", Verdict: checker.Valid, Message: "recovered",
		Details: recovery.Details{Windows: []recovery.Window{
			{Fault: "kill leader", NewLeader: "n2", NewLeaderAfter: 500 * time.Millisecond},
			{Fault: "kill leader", LeaderKept: true},
		}}}
	return checker.Result{Checker: "zkchaos", Verdict: reg.Verdict, Message: "2 checks", Children: []checker.Result{reg, rec}}
}

// testRun is a complete register run: read latency p99 of p99, recovery
// from its one kill after recovered, 1 s unavailable, 100 ops/s over 10 s.
func testRun(dir, scenario string, seed int64, lin checker.Verdict, msg string, p99, recovered time.Duration) Run {
	sum := reports.Summary{
		Latency: map[string]map[history.Type]reports.Quantiles{
			"read":  {history.OK: {Count: 100, P50: p99 / 10, P90: p99 / 2, P99: p99, Max: 2 * p99}, history.Fail: {Count: 3, P99: time.Second}},
			"write": {history.Info: {Count: 1, P99: 4 * time.Second}},
		},
		Unavailable:  time.Second,
		Availability: 0.9,
		Recoveries: []reports.Recovery{
			{Kind: "kill", Name: "kill leader", Applied: true, Healed: true, Unavailable: time.Second, RecoveredAfter: recovered},
			{Kind: "kill", Name: "kill leader", Applied: false, RecoveredAfter: -1},
		},
		LeaderChanges: 1,
	}
	return Run{Dir: dir, Distribution: "debian", Results: reports.Results{
		Scenario: scenario, Seed: seed, Verdict: checkTree(lin, msg).Verdict, Check: checkTree(lin, msg),
		Duration: 10 * time.Second, OpsPerSecond: 100, Summary: &sum,
	}}
}

// writeRun stores r in dir as a run directory: its results.json.
func writeRun(t *testing.T, dir string, r Run) {
	t.Helper()
	require.NoError(t, reports.WriteResults(dir, r.Results))
}
