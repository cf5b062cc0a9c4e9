package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealFindsRunsOfCompareAndBehindSymlinks(t *testing.T) {
	dist := testDistribution(t)
	real := t.TempDir()
	// compare --out runs/upgrade puts each side's runs one level deeper.
	runDir := filepath.Join(real, "upgrade", "a", "smoke", "20250101T000000Z")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ens, err := Start(ctx, Config{Dir: runDir, Nodes: 1, Distribution: dist})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ens.Close(context.Background()) }) // its server is killed behind its back
	pids := ens.PIDs()

	// The runs directory is a link to where the runs really are.
	link := filepath.Join(t.TempDir(), "runs")
	require.NoError(t, os.Symlink(real, link))
	left, err := HealRuns(ctx, link, nil)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, []int{pids["n1"]}, left[0].Killed)
	assert.Equal(t, filepath.Join(link, "upgrade", "a", "smoke", "20250101T000000Z"), left[0].Dir)
	servers, err := Servers(runDir)
	require.NoError(t, err)
	assert.Empty(t, servers)
}
