package harness

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zkchaos/zkchaos/checker"
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
		check, checks := runShipped(t, "set-wipe-one.yaml", 14*time.Second)
		assert.Equal(t, checker.Valid, checks["set"].Verdict, "%s", checks["set"].Message)
		runtest.AssertValid(t, check)
	})
	t.Run("set-wipe-majority", func(t *testing.T) {
		t.Parallel()
		_, checks := runShipped(t, filepath.Join("known-invalid", "set-wipe-majority.yaml"), 12*time.Second)
		assertLostNamed(t, checks)
	})
}
