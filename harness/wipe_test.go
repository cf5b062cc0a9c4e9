package harness

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	"github.com/zkchaos/zkchaos/internal/runtest"
)

// TestWipeKnownAnswers runs the known answers of lost and damaged data side
// by side: a minority's data wiped, then one node's log tail corrupted,
// loses nothing; a majority's data wiped while every node is down, its two
// empty nodes started first, loses every acknowledged element, and the set
// checker names them.
func TestWipeKnownAnswers(t *testing.T) {
	t.Run("set-wipe-one", func(t *testing.T) {
		t.Parallel()
		check, checks := runShipped(t, "set-wipe-one.yaml", 10*time.Second)
		assert.Equal(t, checker.Valid, checks["set"].Verdict, "%s", checks["set"].Message)
		assert.Equal(t, checker.Valid, checks["server-logs"].Verdict, "no node refused its data: %s", checks["server-logs"].Message)
		conv, ok := checks["convergence"].Details.(convergence.Details)
		require.True(t, ok)
		assert.Zero(t, conv.DifferenceCount, "the replicas agree: %s", checks["convergence"].Message)
		// ZooKeeper 3.8.0's own digest check may report a mismatch though
		// the replicas hold the same data (seen in 1 of 6 runs of this
		// test, without the ZOOKEEPER-4541 signature runtest.AssertValid
		// asks for); the run is then invalid by convergence alone.
		if check.Verdict != checker.Valid {
			require.True(t, runtest.DigestMismatched(conv), "invalid, and not by the servers' digest check: %s", checks["convergence"].Message)
			t.Logf("invalid by the servers' digest check: %s", checks["convergence"].Message)
		}
	})
	t.Run("set-wipe-majority", func(t *testing.T) {
		t.Parallel()
		_, checks := runShipped(t, filepath.Join("known-invalid", "set-wipe-majority.yaml"), 12*time.Second)
		assertLostNamed(t, checks)
	})
}
