package diskfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mount mounts a diskfs with opt over a fresh directory, or skips the test
// with the reason this machine cannot.
func mount(t *testing.T, opt Options) (*FS, string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := Probe(dir); err != nil {
		t.Skipf("no FUSE here: %v", err)
	}
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(backing, 0o755))
	require.NoError(t, os.Mkdir(mnt, 0o755))
	m, err := Mount(backing, mnt, opt)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Unmount()) })
	return m, backing, mnt
}

// writeFile writes data to path (created or truncated), fsyncing it when
// sync is set.
func writeFile(t *testing.T, path string, data []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
}

func TestSyncedWriteSurvivesPowerLoss(t *testing.T) {
	m, backing, mnt := mount(t, Options{})
	writeFile(t, filepath.Join(mnt, "a"), []byte("durable"), true)
	m.PowerLoss()
	got, err := os.ReadFile(filepath.Join(mnt, "a"))
	require.NoError(t, err)
	require.Equal(t, "durable", string(got))
	got, err = os.ReadFile(filepath.Join(backing, "a"))
	require.NoError(t, err)
	require.Equal(t, "durable", string(got), "fsync writes the backing file")
}

func TestUnsyncedWriteIsGoneAfterPowerLoss(t *testing.T) {
	m, backing, mnt := mount(t, Options{})
	p := filepath.Join(mnt, "a")
	writeFile(t, p, nil, true) // created and synced empty
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("lost"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "lost", string(got), "reads see unsynced data before the loss")
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.EqualValues(t, 4, st.Size())
	b, err := os.ReadFile(filepath.Join(backing, "a"))
	require.NoError(t, err)
	require.Empty(t, b, "unsynced data never reaches the backing file")

	require.EqualValues(t, 4, m.PowerLoss())
	st, err = os.Stat(p)
	require.NoError(t, err)
	require.EqualValues(t, 0, st.Size())
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestFileCreatedAndNeverSyncedIsGoneAfterPowerLoss(t *testing.T) {
	m, _, mnt := mount(t, Options{})
	require.NoError(t, os.Mkdir(filepath.Join(mnt, "d"), 0o755))
	writeFile(t, filepath.Join(mnt, "d", "new"), []byte("x"), false)
	require.NoError(t, os.Rename(filepath.Join(mnt, "d", "new"), filepath.Join(mnt, "d", "moved")))
	m.PowerLoss()
	_, err := os.Stat(filepath.Join(mnt, "d", "moved"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(filepath.Join(mnt, "d"))
	require.NoError(t, err, "directories pass through")
}

func TestSyncWritesBackEveryFile(t *testing.T) {
	m, _, mnt := mount(t, Options{})
	require.NoError(t, os.Mkdir(filepath.Join(mnt, "d"), 0o755))
	writeFile(t, filepath.Join(mnt, "d", "a"), []byte("a"), false)
	writeFile(t, filepath.Join(mnt, "b"), []byte("b"), false)
	require.NoError(t, m.Sync())
	require.Zero(t, m.PowerLoss())
	got, err := os.ReadFile(filepath.Join(mnt, "d", "a"))
	require.NoError(t, err)
	require.Equal(t, "a", string(got))
}

func TestPartlySyncedFile(t *testing.T) {
	m, _, mnt := mount(t, Options{})
	p := filepath.Join(mnt, "log")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	_, err = f.Write([]byte("one,two,"))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	_, err = f.Write([]byte("three,"))
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("ONE"), 0) // overwrites synced bytes
	require.NoError(t, err)
	require.NoError(t, f.Truncate(20)) // extends with zeros
	require.NoError(t, f.Close())
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "ONE,two,three,\x00\x00\x00\x00\x00\x00", string(got))

	m.PowerLoss()
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "one,two,", string(got), "back to the last fsync")

	// A truncation is unsynced too, and data past it reads as zeros.
	f, err = os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(3))
	require.NoError(t, f.Truncate(6))
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "one\x00\x00\x00", string(got))
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	m.PowerLoss()
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "one\x00\x00\x00", string(got), "a synced truncation stays")
}

func TestMetadataPassesThrough(t *testing.T) {
	m, backing, mnt := mount(t, Options{})
	require.NoError(t, os.Mkdir(filepath.Join(mnt, "d"), 0o755))
	writeFile(t, filepath.Join(mnt, "d", "tmp"), []byte("epoch 5"), true)
	require.NoError(t, os.Rename(filepath.Join(mnt, "d", "tmp"), filepath.Join(mnt, "d", "epoch")))
	writeFile(t, filepath.Join(mnt, "gone"), []byte("x"), false)
	require.NoError(t, os.Remove(filepath.Join(mnt, "gone")))
	_, err := os.Stat(filepath.Join(backing, "d", "epoch"))
	require.NoError(t, err, "the rename reached the backing directory")
	_, err = os.Stat(filepath.Join(backing, "gone"))
	require.ErrorIs(t, err, os.ErrNotExist, "the unlink reached the backing directory")
	require.Zero(t, m.Stats().Unsynced, "an unlinked file's overlay is forgotten")

	m.PowerLoss()
	got, err := os.ReadFile(filepath.Join(mnt, "d", "epoch"))
	require.NoError(t, err)
	require.Equal(t, "epoch 5", string(got))
	_, err = os.Stat(filepath.Join(mnt, "d", "tmp"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestConcurrentWriters(t *testing.T) {
	m, _, mnt := mount(t, Options{})
	const writers, chunks = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			f, err := os.OpenFile(filepath.Join(mnt, fmt.Sprint("f", w)), os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			for i := range chunks {
				if _, err := f.Write(bytes.Repeat([]byte{byte('a' + w)}, 100)); err != nil {
					t.Error(err)
					return
				}
				if i == chunks/2-1 {
					if err := f.Sync(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for w := range writers {
		got, err := os.ReadFile(filepath.Join(mnt, fmt.Sprint("f", w)))
		require.NoError(t, err)
		require.Equal(t, bytes.Repeat([]byte{byte('a' + w)}, 100*chunks), got)
	}
	m.PowerLoss()
	for w := range writers {
		got, err := os.ReadFile(filepath.Join(mnt, fmt.Sprint("f", w)))
		require.NoError(t, err)
		require.Equal(t, bytes.Repeat([]byte{byte('a' + w)}, 100*chunks/2), got, "writer %d keeps what it synced", w)
	}
}

func TestHooks(t *testing.T) {
	m, _, mnt := mount(t, Options{})
	p := filepath.Join(mnt, "a")
	m.SetHooks(Hooks{FsyncDelay: 200 * time.Millisecond})
	start := time.Now()
	writeFile(t, p, []byte("slow"), true)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "fsync waits out its delay")

	m.SetHooks(Hooks{FsyncErrors: 1})
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("!"))
	require.NoError(t, err)
	require.Error(t, f.Sync(), "EIO on every fsync")
	require.NoError(t, f.Close())

	m.SetHooks(Hooks{WriteErrors: 1})
	require.Error(t, os.WriteFile(p, []byte("x"), 0o644), "EIO on every write")

	m.SetHooks(Hooks{SpaceLimit: 10})
	f, err = os.OpenFile(filepath.Join(mnt, "b"), os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 8))
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 8))
	require.ErrorContains(t, err, "no space left", "ENOSPC past the limit")
	m.SetHooks(Hooks{SpaceLimit: -1})
	_, err = f.Write(make([]byte, 1))
	require.ErrorContains(t, err, "no space left", "ENOSPC on every write")
	require.NoError(t, f.Close())

	m.SetHooks(Hooks{})
	writeFile(t, p, []byte("fine"), true)
	require.Positive(t, m.Stats().Fsyncs)
}

func TestMemoryBound(t *testing.T) {
	_, _, mnt := mount(t, Options{MaxUnsynced: 1000})
	f, err := os.OpenFile(filepath.Join(mnt, "a"), os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write(make([]byte, 900))
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 200))
	require.Error(t, err, "a write past the bound fails")
	require.NoError(t, f.Sync())
	_, err = f.Write(make([]byte, 200))
	require.NoError(t, err, "a sync makes room")
}
