package reports

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

func TestCountOpsCountsClientCompletionsOnly(t *testing.T) {
	ops := []history.Op{
		{Type: history.Invoke, F: history.Write, Process: 0},
		{Type: history.OK, F: history.Write, Process: 0},
		{Type: history.Invoke, F: history.Read, Process: 1},
		{Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Fault: &history.Fault{Name: "kill-leader"}},
		{Type: history.Info, F: history.Read, Process: 1},
		{Type: history.Info, F: "kill", Process: history.NemesisProcess, Fault: &history.Fault{Name: "kill-leader"}},
		{Type: history.Invoke, F: history.CAS, Process: 2},
		{Type: history.Fail, F: history.CAS, Process: 2},
		{Type: history.Invoke, F: history.Write, Process: 0},
		{Type: history.OK, F: history.Write, Process: 0},
	}
	got := CountOps(ops)
	assert.Equal(t, Counts{
		history.Write: {history.OK: 2},
		history.Read:  {history.Info: 1},
		history.CAS:   {history.Fail: 1},
	}, got)
	assert.Equal(t, 4, got.Total())
}

func sampleResults() Results {
	return Results{
		Scenario: "register-kill-leader",
		Seed:     42,
		Verdict:  checker.Invalid,
		Check: checker.Result{
			Checker: "all", Verdict: checker.Invalid, Message: "1 of 2 checkers found a violation",
			Duration: 3 * time.Millisecond,
			Children: []checker.Result{
				{Checker: "linearizable", Verdict: checker.Invalid, Message: "key r1 is not linearizable",
					Details: map[string]any{"keys": []any{"r1"}, "ops": float64(12)}},
				{Checker: "sessions", Verdict: checker.Valid, Message: "no session went back in time"},
			},
		},
		Counts:       Counts{history.Write: {history.OK: 10, history.Info: 1}},
		Started:      time.Date(2026, 11, 25, 13, 32, 45, 123456789, time.UTC),
		Duration:     30 * time.Second,
		HealthyAfter: 4500 * time.Millisecond,
		OpsPerSecond: 0.367,
		Interrupted:  true,
		Error:        "final reads on n2: connection refused",
		Nodes:        []string{"n1", "n2", "n3"},
		Logs:         []string{"logs/n1.log", "logs/n2.log", "logs/n3.log"},
	}
}

func TestResultsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := sampleResults()
	require.NoError(t, WriteResults(dir, want))
	got, err := ReadResults(dir)
	require.NoError(t, err)
	assert.True(t, want.Started.Equal(got.Started), "started %v, read back %v", want.Started, got.Started)
	got.Started = want.Started
	assert.Equal(t, want, got)
}

func TestWriteResultsReplacesAtomicallyAndLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	r := sampleResults()
	require.NoError(t, WriteResults(dir, r))
	r.Verdict = checker.Valid
	require.NoError(t, WriteResults(dir, r))

	got, err := ReadResults(dir)
	require.NoError(t, err)
	assert.Equal(t, checker.Valid, got.Verdict)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only results.json should remain")
	assert.Equal(t, ResultsFile, entries[0].Name())
	fi, err := os.Stat(filepath.Join(dir, ResultsFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
}

func TestReadResultsNamesTheMissingFile(t *testing.T) {
	_, err := ReadResults(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), ResultsFile)
}
