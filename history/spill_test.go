package history

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRemoveStaleSpillsTakesOnlyThoseOfGoneProcesses holds the clean-up of
// a judgement killed before it closed its spills: its directory goes, a
// live process's stays, and other names are not touched.
func TestRemoveStaleSpillsTakesOnlyThoseOfGoneProcesses(t *testing.T) {
	dir := t.TempDir()
	live, err := NewSpill(dir)
	require.NoError(t, err)
	defer live.Close()
	require.NoError(t, live.Append("k", &Op{Index: 1}))
	require.NoError(t, live.Flush())

	// A process that has exited: its pid is free until reused.
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	stale := filepath.Join(dir, fmt.Sprintf("spill-%d-123", gone.Process.Pid))
	require.NoError(t, os.MkdirAll(stale, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stale, "0.spill"), []byte("x"), 0o644))
	for _, other := range []string{"spill-42", "spill-x-1", "history.jsonl.d"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, other), 0o755))
	}

	removed, err := RemoveStaleSpills(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{stale}, removed)
	assert.NoDirExists(t, stale)
	assert.DirExists(t, live.dir, "the spill of a live process stays")
	for _, other := range []string{"spill-42", "spill-x-1", "history.jsonl.d"} {
		assert.DirExists(t, filepath.Join(dir, other))
	}
	ops, err := live.Load("k")
	require.NoError(t, err)
	assert.Len(t, ops, 1)
}
