package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/cluster/local"
	"github.com/zkchaos/zkchaos/cluster/local/localtest"
	"github.com/zkchaos/zkchaos/compare"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// writeSmokeRun stores a judged smoke run under root/smoke/ (with its latest
// link) whose linearizability checker found lin.
func writeSmokeRun(t *testing.T, root string, at time.Time, seed int64, lin checker.Verdict) string {
	t.Helper()
	dir, err := reports.NewRunDir(root, "smoke", at)
	require.NoError(t, err)
	linR := checker.Result{Checker: "linearizable", Verdict: lin, Message: "key k1: " + string(lin)}
	reg := checker.Result{Checker: "register", Verdict: lin, Children: []checker.Result{linR}}
	rec := checker.Result{Checker: "recovery", Verdict: checker.Valid, Message: "recovered"}
	top := checker.Result{Checker: "zkchaos", Verdict: lin, Children: []checker.Result{reg, rec}}
	sum := reports.Summary{
		Latency:      map[string]map[history.Type]reports.Quantiles{"read": {history.OK: {Count: 10, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 3 * time.Millisecond}}},
		Availability: 1,
		Recoveries:   []reports.Recovery{{Kind: "kill", Name: "kill leader", Applied: true, Healed: true, RecoveredAfter: 700 * time.Millisecond}},
	}
	require.NoError(t, reports.WriteResults(dir, reports.Results{Scenario: "smoke", Seed: seed, Verdict: lin, Check: top,
		Started: at, Duration: 5 * time.Second, OpsPerSecond: 150, Summary: &sum}))
	return dir
}

// readComparison reads OUT/compare.json.
func readComparison(t *testing.T, out string) compare.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, compare.JSONFile))
	require.NoError(t, err)
	var rep compare.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	return rep
}

func TestCompareDirsExitsOneWhenBHasAnInvalidRun(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		writeSmokeRun(t, a, start.Add(time.Duration(i)*time.Minute), int64(7+i), checker.Valid)
		lin := checker.Valid
		if i == 1 {
			lin = checker.Invalid
		}
		writeSmokeRun(t, b, start.Add(time.Duration(i)*time.Minute), int64(7+i), lin)
	}
	out := filepath.Join(root, "cmp")
	code, stdout, stderr := zkchaos(t, "compare", "--a-dirs", a, "--b-dirs", filepath.Join(b, "smoke", "*"), "--out", out)
	assert.Equal(t, exitInvalid, code, stderr)
	assert.Contains(t, stdout, "B is worse on correctness in smoke: register/linearizable invalid in 1/3 runs vs 0/3.")
	rep := readComparison(t, out)
	assert.True(t, rep.Regression)
	assert.Equal(t, 3, rep.A.Runs, "the latest links are not counted again")
	assert.Equal(t, 3, rep.B.Runs)
	assert.Contains(t, strings.Join(rep.Summary, "\n"), "register/linearizable")
	assert.FileExists(t, filepath.Join(out, compare.HTMLFile))

	// The other way round B is better, and that is no regression.
	code, stdout, stderr = zkchaos(t, "compare", "--a-dirs", b, "--b-dirs", a, "--out", out)
	assert.Equal(t, exitValid, code, stderr)
	assert.Contains(t, stdout, "No regression")
	assert.Contains(t, stdout, "B is better on correctness in smoke: register/linearizable invalid in 0/3 runs vs 1/3.")
}

func TestCompareBadInputStartsNothing(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	writeSmokeRun(t, runs, time.Now(), 1, checker.Valid)
	broken := filepath.Join(root, "broken")
	require.NoError(t, os.MkdirAll(broken, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(broken, reports.ResultsFile), []byte("{"), 0o644))
	out := filepath.Join(root, "out")
	smoke := "../../scenarios/smoke.yaml"

	tests := []struct {
		name string
		args []string
		says string
	}{
		{"nothing to compare", nil, "say what to compare"},
		{"one distribution", []string{"--a", "debian", smoke}, "--b names no distribution"},
		{"no scenario", []string{"--a", "debian", "--b", "debian"}, "at least one scenario"},
		{"a distribution that does not exist", []string{"--a", "/nonexistent/zookeeper", "--b", "debian", smoke}, "--a /nonexistent/zookeeper"},
		{"a bad scenario", []string{"--a", "debian", "--b", "debian", "../../scenarios/testdata/negative-rate.yaml"}, "field workload.rate"},
		{"zero runs", []string{"--a", "debian", "--b", "debian", "--runs", "0", smoke}, "--runs must be at least 1"},
		{"a malformed flag", []string{"--a", "debian", "--b", "debian", "--time-limit", "soon", smoke}, "time-limit"},
		{"modes mixed", []string{"--a", "debian", "--b-dirs", runs}, "cannot be mixed"},
		{"one side of directories", []string{"--a-dirs", runs}, "--b-dirs names no run directories"},
		{"no runs found", []string{"--a-dirs", runs, "--b-dirs", filepath.Join(root, "nope")}, filepath.Join(root, "nope")},
		{"an unreadable results.json", []string{"--a-dirs", runs, "--b-dirs", broken}, filepath.Join(broken, reports.ResultsFile)},
		{"run flags in directory mode", []string{"--a-dirs", runs, "--b-dirs", runs, "--runs", "3"}, "--runs only applies"},
		{"an unquoted glob", []string{"--a-dirs", runs, "--b-dirs", runs, "extra"}, "quote a glob"},
		{"a negative limit", []string{"--a-dirs", runs, "--b-dirs", runs, "--fail-on-latency", "-5"}, "--fail-on-latency must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := zkchaos(t, append([]string{"compare", "--out", out}, tt.args...)...)
			assert.Equal(t, exitBadInput, code, stderr)
			assert.Contains(t, stderr, tt.says)
			assert.NoDirExists(t, out, "bad input starts nothing and writes nothing")
		})
	}
}

func TestCompareBNamesTheFlagOfABadDistribution(t *testing.T) {
	if _, err := local.FindDistribution(context.Background(), "debian"); err != nil {
		t.Skip(err)
	}
	out := t.TempDir()
	code, _, stderr := zkchaos(t, "compare", "--a", "debian", "--b", "/nonexistent/zookeeper", "--out", out, "../../scenarios/smoke.yaml")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, stderr, "--b /nonexistent/zookeeper")
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing ran")
}

// TestCompareRunsTwoDebianBuilds is compare's known answer on a real
// upgrade: ZOOKEEPER-4785 loses acknowledged writes on Debian 12's 3.8.0
// (10 of 10 runs here) and is fixed in Debian 13's 3.9.3 (none of 10), so
// with two runs a side compare must find the set checker invalid in A only,
// say B is better there, and exit 0.
func TestCompareRunsTwoDebianBuilds(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	out := t.TempDir()
	const newer, bug = "debian=3.9.3-1+deb13u1", "ZOOKEEPER-4785"
	code, stdout, stderr := zkchaos(t, "compare", "--a", "debian", "--b", newer, "--runs", "2",
		"--out", out, "../../scenarios/regressions/"+bug+".yaml")
	assert.Equal(t, exitValid, code, "B is not worse: stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.FileExists(t, filepath.Join(out, compare.HTMLFile))
	rep := readComparison(t, out)
	assert.Equal(t, 2, rep.A.Runs)
	assert.Equal(t, 2, rep.B.Runs)
	assert.Equal(t, newer, rep.B.Source)
	assert.Contains(t, rep.B.Distributions, "debian 3.9.3-1+deb13u1")
	assert.False(t, rep.Regression)

	var set *compare.CheckerRow
	for _, c := range rep.Scenarios {
		for i, row := range c.Checkers {
			if c.Scenario == bug && row.Path == "set/set" {
				set = &c.Checkers[i]
			}
		}
	}
	require.NotNil(t, set, "the set checker is compared: %+v", rep.Scenarios)
	assert.Positive(t, set.A.Invalid, "3.8.0 loses acknowledged writes")
	assert.Zero(t, set.B.Invalid, "3.9.3 keeps them")
	better := false
	for _, f := range rep.Findings {
		assert.False(t, f.Worse, "%s", f.Text)
		better = better || (f.Aspect == compare.Correctness && f.Scenario == bug && f.Subject == set.Path && !f.Worse)
	}
	assert.True(t, better, "B is better on %s's set checker: %v", bug, rep.Summary)
	assert.Contains(t, stdout, "B is better on correctness in "+bug)
	assert.Contains(t, stdout, "comparison: "+filepath.Join(out, compare.HTMLFile))
}

func TestCompareSIGINTStillComparesWhatFinished(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	localtest.RequireZooKeeper(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "compare", "--a", "debian", "--b", "debian", "--time-limit", "5s",
		"--out", out, "../../scenarios/smoke.yaml")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())

	bHistory := filepath.Join(out, "b", "smoke", reports.LatestLink, history.FileName)
	require.Eventually(t, func() bool {
		st, err := os.Stat(bHistory)
		return err == nil && st.Size() > 0
	}, 3*time.Minute, 100*time.Millisecond, "B's run should start after A's finished: %s", &stderr)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, stderr.String())
	assert.Equal(t, exitInterrupted, exit.ExitCode(), stderr.String())

	rep := readComparison(t, out)
	assert.Equal(t, 1, rep.A.Runs, "A's finished run is compared")
	assert.Equal(t, 0, rep.B.Runs)
	assert.Equal(t, 1, rep.B.Skipped, "B's interrupted run is listed, not compared")
	assert.FileExists(t, filepath.Join(out, compare.HTMLFile))
	bDir, err := filepath.EvalSymlinks(filepath.Join(out, "b", "smoke", reports.LatestLink))
	require.NoError(t, err)
	assert.Empty(t, localtest.Servers(t, bDir), "no ZooKeeper process may outlive the harness")
}
