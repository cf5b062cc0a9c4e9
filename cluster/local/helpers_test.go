package local

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
)

// testDistribution returns the distribution real-ensemble tests run
// ($ZKCHAOS_DISTRIBUTION, default the Debian package). It skips in -short
// mode; when ZooKeeper or Java is missing it fails under CI (CI set) and
// skips otherwise, with the message saying what to install.
func testDistribution(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real ZooKeeper ensemble: skipped with -short")
	}
	name := os.Getenv("ZKCHAOS_DISTRIBUTION")
	if _, err := FindDistribution(context.Background(), name); err != nil {
		if errors.Is(err, ErrNotFound) && os.Getenv("CI") == "" {
			t.Skip(err.Error())
		}
		t.Fatal(err)
	}
	return name
}

// testWriter sends log output to t.Log until the test ends (a late write,
// e.g. from a process-exit goroutine, is dropped instead of panicking).
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// Write logs p as one test log line.
func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// testLogger returns a logger writing into the test's log.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testConfig returns a Config for a real ensemble of n nodes in a fresh
// directory.
func testConfig(t testing.TB, n int) Config {
	t.Helper()
	return Config{
		Dir:          t.TempDir(),
		Nodes:        n,
		Distribution: testDistribution(t),
		Logger:       testLogger(t),
	}
}

// startTestEnsemble starts an ensemble that the test's cleanup closes.
func startTestEnsemble(t testing.TB, cfg Config) *Ensemble {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		require.NoError(t, e.Close(cctx))
	})
	return e
}

// splitByLeader returns the leader and the other nodes.
func splitByLeader(t *testing.T, e *Ensemble) (leader cluster.Node, others []cluster.Node) {
	t.Helper()
	name := cluster.LeaderOf(e.Roles(context.Background()))
	require.NotEmpty(t, name, "no single leader")
	for _, n := range e.Nodes() {
		if n.Name == name {
			leader = n
		} else {
			others = append(others, n)
		}
	}
	return leader, others
}

// truncate shortens s to at most n bytes for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
