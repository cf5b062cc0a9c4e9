package harness

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	"github.com/zkchaos/zkchaos/checker/serverlogs"
	setcheck "github.com/zkchaos/zkchaos/checker/set"
	"github.com/zkchaos/zkchaos/internal/runtest"
)

// TestWipeKnownAnswers runs the known answers of lost and damaged data side
// by side: a minority's data wiped, then one node's log tail and log header
// corrupted, loses nothing (the header is refused, the node's disk
// replaced); a majority's data wiped while every node is down, its two
// empty nodes started first, loses every acknowledged element, and the set
// checker names them; a corrupt snapshot on a node whose disk was replaced
// makes ZooKeeper 3.8.0 serve a tree that lacks data, and the set,
// convergence and server-logs checkers all see it on that node.
func TestWipeKnownAnswers(t *testing.T) {
	t.Parallel() // beside the other tests that start ensembles, two at a time
	t.Run("set-wipe-one", func(t *testing.T) {
		t.Parallel()
		check, checks := runShipped(t, "set-wipe-one.yaml", 11*time.Second)
		assert.Equal(t, checker.Valid, checks["set"].Verdict, "%s", checks["set"].Message)
		conv, ok := checks["convergence"].Details.(convergence.Details)
		require.True(t, ok)
		assert.Zero(t, conv.DifferenceCount, "the replicas agree: %s", checks["convergence"].Message)
		logs := checks["server-logs"]
		refused := 0
		for _, nl := range logs.Details.(serverlogs.Details) {
			refused += len(nl.Refused)
		}
		assert.Equal(t, 1, refused, "ZooKeeper refuses a log whose header is damaged")
		// ZooKeeper 3.8.0's own digest check may report a mismatch though
		// the replicas hold the same data (seen in 2 of about 10 runs of
		// this test, once with the ZOOKEEPER-4541 signature that
		// runtest.AssertValid asks for, once without): the run is then
		// invalid by convergence, and by server-logs when the server also
		// logged it, but by nothing else. The refusal is explained either
		// way: no line saying the data would not load is bad.
		if check.Verdict != checker.Valid {
			require.True(t, runtest.DigestMismatched(conv), "invalid, and not by the servers' digest check: %s", checks["convergence"].Message)
			t.Logf("invalid by the servers' digest check: %s", checks["convergence"].Message)
		}
		if logs.Verdict != checker.Valid {
			for n, nl := range logs.Details.(serverlogs.Details) {
				for _, bad := range nl.Bad {
					assert.True(t, strings.HasPrefix(bad, "digest mismatch: "), "%s: only the servers' digest check may be bad here: %s", n, bad)
				}
			}
		}
	})
	t.Run("set-wipe-corrupt-snapshot", func(t *testing.T) {
		t.Parallel()
		_, checks := runShipped(t, filepath.Join("known-invalid", "set-wipe-corrupt-snapshot.yaml"), 30*time.Second)
		set := checks["set/set"]
		require.Equal(t, checker.Invalid, set.Verdict, "the positive control must be caught: %s", set.Message)
		var broken []string
		for _, n := range set.Details.(setcheck.Details).Nodes {
			if n.Lost.Count > 0 {
				broken = append(broken, n.Node)
			}
		}
		require.Len(t, broken, 1, "one replica serves the tree it rebuilt: %s", set.Message)
		conv := checks["convergence"]
		assert.Equal(t, checker.Invalid, conv.Verdict, "%s", conv.Message)
		assert.Positive(t, conv.Details.(convergence.Details).DifferenceCount, "%s differs from the others", broken[0])
		logs := checks["server-logs"]
		assert.Equal(t, checker.Invalid, logs.Verdict, "%s", logs.Message)
		assert.Contains(t, strings.Join(logs.Details.(serverlogs.Details)[broken[0]].Bad, "\n"), "digest mismatch",
			"%s's own digest check saw its tree go wrong", broken[0])
	})
	t.Run("set-wipe-majority", func(t *testing.T) {
		t.Parallel()
		_, checks := runShipped(t, filepath.Join("known-invalid", "set-wipe-majority.yaml"), 12*time.Second)
		assertLostNamed(t, checks)
	})
}
