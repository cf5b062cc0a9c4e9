package harness

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/history/gen"
	"github.com/zkchaos/zkchaos/internal/memstat"
)

// BenchmarkJudge1M judges a run directory holding a generated register
// history of 1M calls over 100 keys (2M records, about 230 MB of JSONL), as
// `zkchaos check` does after a long run: read the history back, run every
// checker of the register workload, write results.json and report.html. It
// reports the peak of the memory the Go runtime holds while judging as
// peak-MB.
//
//	go test -run x -bench Judge1M -benchtime 1x -count 5 ./harness/
func BenchmarkJudge1M(b *testing.B) {
	dir := b.TempDir()
	writeGeneratedRun(b, dir, gen.Config{Seed: 1, Calls: 1_000_000, Keys: 100})
	for b.Loop() {
		stop := memstat.Sample()
		res, err := Check(context.Background(), dir)
		b.ReportMetric(float64(stop())/1e6, "peak-MB")
		require.NoError(b, err)
		require.Equal(b, checker.Valid, res.Check.Children[0].Verdict, "%s", res.Check.Children[0].Message)
	}
}

// writeGeneratedRun writes a run directory with a generated register
// history and a scenario that judges it, then returns the generator's memory
// to the system so that it does not count.
func writeGeneratedRun(b *testing.B, dir string, cfg gen.Config) {
	w, err := history.Create(filepath.Join(dir, history.FileName), time.Now())
	require.NoError(b, err)
	for _, op := range gen.Register(cfg) {
		_, err := w.Append(op)
		require.NoError(b, err)
	}
	require.NoError(b, w.Close())
	scenario := "name: generated\nworkload:\n  name: register\n  keys: 100\n  rate: 0\n"
	require.NoError(b, os.WriteFile(filepath.Join(dir, ScenarioFile), []byte(scenario), 0o644))
	runtime.GC()
	debug.FreeOSMemory()
}
