package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history/gen"
)

// TestCheckRemovesTheSpillsAKilledJudgementLeft judges a register run
// directory holding the spill directory of a judgement whose process is
// gone, and one of a process still running: the first goes, the second
// stays, and the judgement leaves none of its own.
func TestCheckRemovesTheSpillsAKilledJudgementLeft(t *testing.T) {
	dir := t.TempDir()
	writeGeneratedRun(t, dir, gen.Config{Seed: 1, Calls: 2_000, Keys: 4})
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	stale := filepath.Join(dir, fmt.Sprintf("spill-%d-1", gone.Process.Pid))
	live := filepath.Join(dir, fmt.Sprintf("spill-%d-1", os.Getppid()))
	for _, d := range []string{stale, live} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "0.spill"), []byte("x"), 0o644))
	}

	res, err := Check(context.Background(), dir)
	require.NoError(t, err)
	// A generated history has no servers to read: only the register is
	// judged on it.
	assert.Equal(t, checker.Valid, res.Check.Children[0].Verdict, "%s", res.Check.Message)
	assert.NoDirExists(t, stale)
	assert.DirExists(t, live, "a live process's spill stays")
	left, err := filepath.Glob(filepath.Join(dir, "spill-*"))
	require.NoError(t, err)
	assert.Equal(t, []string{live}, left, "the judgement removes its own spills")
}
