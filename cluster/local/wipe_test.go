package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
)

func TestDamageSpanAimsAtWhatTheFileHolds(t *testing.T) {
	log := append(make([]byte, 100), make([]byte, 1000)...) // 100 bytes held, then preallocated zeros
	for i := range 100 {
		log[i] = byte(i + 1)
	}
	snap := make([]byte, 64)
	for _, c := range []struct {
		content   []byte
		d         cluster.Damage
		off, size int
	}{
		{log, cluster.Damage{File: cluster.DamageLog, Region: cluster.DamageHeader}, 0, 16},
		{log, cluster.Damage{File: cluster.DamageLog, Region: cluster.DamageMiddle}, 42, 16},
		{log, cluster.Damage{File: cluster.DamageLog, Region: cluster.DamageTail}, 84, 16},
		{snap, cluster.Damage{File: cluster.DamageSnapshot, Region: cluster.DamageTail}, 48, 16},
		{snap[:5], cluster.Damage{File: cluster.DamageSnapshot, Region: cluster.DamageMiddle}, 0, 5},
	} {
		off, size, err := damageSpan(c.content, c.d)
		require.NoError(t, err, c.d)
		assert.Equal(t, [2]int{c.off, c.size}, [2]int{off, size}, c.d)
	}
	_, _, err := damageSpan(make([]byte, 10), cluster.Damage{File: cluster.DamageLog, Region: cluster.DamageTail})
	assert.ErrorContains(t, err, "nothing to corrupt", "a log of zeros holds nothing")
	_, _, err = damageSpan(snap, cluster.Damage{File: cluster.DamageSnapshot, Region: "end"})
	assert.Error(t, err)
}

func TestFlipNewestFlipsTheNewestFileOfItsKind(t *testing.T) {
	dir := t.TempDir()
	older, newer := make([]byte, 32), make([]byte, 32)
	for i := range newer {
		older[i], newer[i] = 0xAA, byte(i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "snapshot.ff"), older, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "snapshot.100000000"), newer, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "log.200000000"), newer, 0o644))
	what, err := flipNewest(dir, cluster.Damage{File: cluster.DamageSnapshot, Region: cluster.DamageTail})
	require.NoError(t, err)
	assert.Equal(t, "snapshot.100000000 bytes 16..31 (tail)", what)
	got, err := os.ReadFile(filepath.Join(dir, "snapshot.100000000"))
	require.NoError(t, err)
	assert.Equal(t, newer[:16], got[:16], "outside the region nothing changes")
	for i := 16; i < 32; i++ {
		assert.Equal(t, ^newer[i], got[i], "byte %d flipped", i)
	}
	got, err = os.ReadFile(filepath.Join(dir, "snapshot.ff"))
	require.NoError(t, err)
	assert.Equal(t, older, got, "an older snapshot is left alone")
	_, err = flipNewest(t.TempDir(), cluster.Damage{File: cluster.DamageLog, Region: cluster.DamageTail})
	assert.ErrorContains(t, err, "no log file")
}

func TestEmptyDirKeepsTheDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "version-2"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version-2", "log.1"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644))
	n, err := emptyDir(dir)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
