// Package harnesstest runs whole runs for the tests of workloads on real
// ensembles, so that each such test only sets its scenario and judges the
// outcome.
package harnesstest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/zkchaos/zkchaos/harness"
	"github.com/zkchaos/zkchaos/internal/runtest"
)

// Run runs opts within five minutes, fails t on an error, and logs the
// verdict of every checker. Unless opts says otherwise, the run directory is
// under runtest.OutDir and the harness's warnings go to stderr.
func Run(t testing.TB, opts harness.Options) harness.Outcome {
	t.Helper()
	if opts.OutDir == "" {
		opts.OutDir = runtest.OutDir(t)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := harness.Run(ctx, opts)
	if err != nil {
		t.Fatalf("run %s: %v", opts.Scenario.Name, err)
	}
	t.Logf("run verdict %s:\n%s", out.Results.Verdict, out.Results.Check.Messages())
	return out
}
