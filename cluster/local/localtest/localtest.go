// Package localtest holds what tests that start real ZooKeeper ensembles
// share: the decision to skip or to fail when ZooKeeper cannot run here.
package localtest

import (
	"context"
	"os"
	"testing"

	"github.com/zkchaos/zkchaos/cluster/local"
)

// RequireZooKeeper skips a real-ensemble test in -short mode. When ZooKeeper
// or Java is missing it fails in CI (where the suite installs them, so a
// missing install step must not pass silently) and skips elsewhere.
func RequireZooKeeper(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real ZooKeeper ensemble")
	}
	if _, err := local.FindDistribution(context.Background(), "debian"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// Servers lists the ZooKeeper servers of the run directory dir that still
// run.
func Servers(t testing.TB, dir string) []int {
	t.Helper()
	pids, err := local.Servers(dir)
	if err != nil {
		t.Fatalf("list the servers of %s: %v", dir, err)
	}
	return pids
}
