package harness

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
)

// FuzzCheckRunDir corrupts a run directory's scenario, history and results
// and judges it as `zkchaos check RUN_DIR` does: no input may make Check
// panic; it either judges (valid, invalid or unknown, with results.json and
// report.html written) or refuses the directory as bad input.
func FuzzCheckRunDir(f *testing.F) {
	seed := filepath.Join("..", "cmd", "zkchaos", "testdata", "invalid-run")
	scenario, err := os.ReadFile(filepath.Join(seed, ScenarioFile))
	require.NoError(f, err)
	hist, err := os.ReadFile(filepath.Join(seed, history.FileName))
	require.NoError(f, err)
	f.Add(scenario, hist, []byte(nil))
	f.Add(scenario, hist, []byte(`{"scenario":"stale-read","duration":1000000000,"verdict":"valid"}`))
	f.Add(scenario, hist[:len(hist)/2], []byte(nil))
	f.Add([]byte("name: s\nworkload:\n  name: queue\n"), hist, []byte(nil))
	f.Add([]byte("name: s\n---\nname: t\n"), []byte("\x00\xff"), []byte("{"))
	f.Fuzz(func(t *testing.T, scenario, hist, results []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, ScenarioFile), scenario, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, history.FileName), hist, 0o644))
		if results != nil {
			require.NoError(t, os.WriteFile(filepath.Join(dir, reports.ResultsFile), results, 0o644))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var res reports.Results
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, err = Check(ctx, dir)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			stack := make([]byte, 1<<20)
			t.Fatalf("Check ignores its deadline:\n%s", stack[:runtime.Stack(stack, true)])
		}
		if err != nil {
			require.ErrorIs(t, err, ErrBadInput, "a run directory that cannot be judged is bad input, not a harness failure")
			require.Contains(t, err.Error(), dir, "the error names the run directory")
			return
		}
		require.Contains(t, []checker.Verdict{checker.Valid, checker.Invalid, checker.Unknown}, res.Verdict)
		require.FileExists(t, filepath.Join(dir, reports.ResultsFile))
		require.FileExists(t, filepath.Join(dir, reports.ReportFile))
	})
}
