// Package diskfs is a user-space file system (FUSE, github.com/hanwen/go-fuse)
// mounted over a directory, passing every operation through to a backing
// directory except the data that has not been synced: as Jepsen's lazyfs
// does, it keeps, per file, what was written and truncated since the file's
// last fsync or fdatasync in memory, where reads and stat see it, and only
// an fsync writes it to the backing file and syncs that (or Sync, for every
// file, as sync(1) does). PowerLoss forgets all of it at once: what a power
// cut loses.
//
// What it models and what not:
//   - File data and sizes are lost back to their last fsync; files are
//     never torn within what was synced.
//   - Metadata mostly is not: mkdirs, renames, unlinks and links pass
//     through to the backing directory at once and survive a power loss,
//     and so do creates, except that a file created through the mount and
//     never fsynced since (nor synced by Sync) is removed at a power loss,
//     as a journal that had not committed its creation would: otherwise
//     every log file a server had just begun would come back empty, which
//     ZooKeeper 3.8 refuses to start on. Directory fsyncs pass through
//     and are not tracked.
//   - Every file is opened with FOPEN_DIRECT_IO, so the kernel keeps no
//     page cache of it: data a power loss dropped is never served again.
//     Shared writable mmap is therefore refused (ZooKeeper uses none).
//   - The kernel's periodic writeback is not modelled: unsynced data stays
//     unsynced however old it is, until an fsync or Sync.
//   - Memory is bounded: a write that would take the unsynced bytes of
//     the whole mount past Options.MaxUnsynced fails with EIO, loudly,
//     rather than being written through without a sync (which would make
//     a power loss silently lose less than it claims).
//
// Faults for later kinds switch on at run time through SetHooks: a delay
// per fsync and per write (with jitter), EIO on a share of writes or
// fsyncs, and ENOSPC past a number of bytes written.
package diskfs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FSType is the type of a diskfs mount as /proc/self/mountinfo shows it.
const FSType = "fuse.zkchaos"

// DefaultMaxUnsynced bounds the unsynced bytes one mount holds in memory.
const DefaultMaxUnsynced = 64 << 20

// Options tune a mount.
type Options struct {
	// MaxUnsynced bounds the bytes a mount holds unsynced (default
	// DefaultMaxUnsynced); writes past it fail with EIO.
	MaxUnsynced int64
	// Logger receives the file system's events (default: discard).
	Logger *slog.Logger
}

// Hooks are the faults the file system injects, switched at run time. The
// zero value injects none.
type Hooks struct {
	// FsyncDelay delays every fsync and fdatasync, FsyncJitter adds a
	// uniformly random extra delay up to it.
	FsyncDelay, FsyncJitter time.Duration
	// WriteDelay delays every write, WriteJitter adds a uniformly random
	// extra delay up to it.
	WriteDelay, WriteJitter time.Duration
	// WriteErrors is the share of writes, in [0, 1], that fail with EIO;
	// FsyncErrors that of fsyncs (a failed fsync keeps the data
	// unsynced).
	WriteErrors, FsyncErrors float64
	// SpaceLimit, when positive, is how many bytes may be written from
	// SetHooks on: a write past it fails with ENOSPC. When negative, every
	// write fails with ENOSPC.
	SpaceLimit int64
}

// Stats count what a mount did.
type Stats struct {
	// Writes and Fsyncs count the write and fsync requests served.
	Writes, Fsyncs int64
	// Unsynced is how many bytes are held unsynced now.
	Unsynced int64
	// Dropped is how many unsynced bytes power losses dropped.
	Dropped int64
}

// FS is one mounted diskfs. Its methods are safe for concurrent use.
type FS struct {
	backing, mountpoint string
	server              *fuse.Server
	log                 *slog.Logger
	maxUnsynced         int64

	mu    sync.Mutex
	files map[fileKey]*file

	hooks   atomic.Pointer[Hooks]
	written atomic.Int64 // bytes written since SetHooks
	stats   struct{ writes, fsyncs, unsynced, dropped atomic.Int64 }
}

// fileKey names a backing file across renames: its device and inode.
type fileKey struct{ dev, ino uint64 }

// file is the state of one backing file: its overlay, nil when clean, and
// whether it was created through the mount and not synced since.
type file struct {
	mu      sync.Mutex
	ov      *overlay
	created bool
}

// Mount mounts a diskfs at mountpoint (an existing, empty directory) over
// the backing directory and serves it until Unmount.
func Mount(backing, mountpoint string, opt Options) (*FS, error) {
	if opt.MaxUnsynced <= 0 {
		opt.MaxUnsynced = DefaultMaxUnsynced
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	f := &FS{backing: backing, mountpoint: mountpoint, log: opt.Logger, maxUnsynced: opt.MaxUnsynced,
		files: map[fileKey]*file{}}
	f.hooks.Store(&Hooks{})
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("diskfs: backing directory: %w", err)
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: st.Dev}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: f, key: keyOf(st)}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	zero := time.Duration(0)
	server, err := fs.Mount(mountpoint, root.RootNode, &fs.Options{
		// Sizes change, and files vanish, behind the kernel's back at a
		// power loss: it must ask every time.
		AttrTimeout: &zero, NegativeTimeout: &zero, EntryTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName: "zkchaos-diskfs", Name: "zkchaos", DirectMount: true,
			DisableXAttrs: true, MaxBackground: 64,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("diskfs: mount %s over %s: %w", mountpoint, backing, err)
	}
	f.server = server
	f.log.Debug("diskfs mounted", "mountpoint", mountpoint, "backing", backing)
	return f, nil
}

func keyOf(st *syscall.Stat_t) fileKey { return fileKey{dev: st.Dev, ino: st.Ino} }

// Unmount syncs every file, as a clean unmount writes back the page cache,
// and unmounts the file system. It fails while a process still has a file
// of it open.
func (f *FS) Unmount() error {
	syncErr := f.Sync()
	if err := f.server.Unmount(); err != nil {
		return fmt.Errorf("diskfs: unmount %s: %w", f.mountpoint, errors.Join(err, syncErr))
	}
	f.server.Wait()
	if syncErr != nil {
		return fmt.Errorf("diskfs: unmount %s: %w", f.mountpoint, syncErr)
	}
	return nil
}

// PowerLoss drops every byte written and every truncation done since the
// last fsync of its file, removes the files created and never synced since,
// and returns how many bytes it dropped. Stop every writer first (kill the
// process): a write after it is kept.
func (f *FS) PowerLoss() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var dropped int64
	created := map[fileKey]bool{}
	for key, st := range f.files {
		st.mu.Lock()
		if st.ov != nil {
			dropped += st.ov.held()
			st.ov = nil
		}
		if st.created {
			created[key] = true
		}
		st.mu.Unlock()
		delete(f.files, key)
	}
	f.stats.unsynced.Add(-dropped)
	f.stats.dropped.Add(dropped)
	removed, err := f.removeFiles(created)
	if err != nil {
		f.log.Error("diskfs power loss: files created and never synced not all removed", "mountpoint", f.mountpoint, "err", err)
	}
	f.log.Info("diskfs power loss", "mountpoint", f.mountpoint, "dropped_bytes", dropped, "removed_files", removed)
	return dropped
}

// removeFiles removes the backing files whose keys are in keys and returns
// their paths relative to the backing directory.
func (f *FS) removeFiles(keys map[fileKey]bool) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var removed []string
	err := f.walkFiles(func(path string, key fileKey) error {
		if !keys[key] {
			return nil
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("diskfs: %w", err)
		}
		rel, _ := filepath.Rel(f.backing, path)
		removed = append(removed, rel)
		return nil
	})
	return removed, err
}

// walkFiles calls fn for every regular file of the backing directory.
func (f *FS) walkFiles(fn func(path string, key fileKey) error) error {
	return filepath.WalkDir(f.backing, func(path string, d iofs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return fmt.Errorf("diskfs: %w", err)
		}
		return fn(path, keyOf(&st))
	})
}

// Sync writes every file's unsynced data to its backing file and syncs it,
// as sync(1) would: what a machine that has run a while has written back.
func (f *FS) Sync() error {
	return f.walkFiles(func(path string, key fileKey) error {
		f.mu.Lock()
		state, ok := f.files[key]
		f.mu.Unlock()
		if !ok {
			return nil
		}
		fd, err := syscall.Open(path, syscall.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("diskfs: sync %s: %w", path, err)
		}
		defer syscall.Close(fd)
		if errno := (&handle{fd: fd, fs: f, st: state}).sync(); errno != 0 {
			return fmt.Errorf("diskfs: sync %s: %w", path, errno)
		}
		return nil
	})
}

// SetHooks switches the injected faults to h, replacing earlier ones, and
// starts counting SpaceLimit from zero.
func (f *FS) SetHooks(h Hooks) {
	f.written.Store(0)
	f.hooks.Store(&h)
}

// Stats returns what the mount did so far.
func (f *FS) Stats() Stats {
	return Stats{Writes: f.stats.writes.Load(), Fsyncs: f.stats.fsyncs.Load(),
		Unsynced: f.stats.unsynced.Load(), Dropped: f.stats.dropped.Load()}
}

// state returns the state of the backing file key, created if need be.
func (f *FS) state(key fileKey) *file {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.files[key]
	if !ok {
		st = &file{}
		f.files[key] = st
	}
	return st
}

// forget drops the state of a backing file that no name links any more,
// so that a new file that reuses its inode starts clean.
func (f *FS) forget(key fileKey) {
	f.mu.Lock()
	st, ok := f.files[key]
	delete(f.files, key)
	f.mu.Unlock()
	if !ok {
		return
	}
	st.mu.Lock()
	if st.ov != nil {
		f.stats.unsynced.Add(-st.ov.held())
		st.ov = nil
	}
	st.mu.Unlock()
}

// delay sleeps d plus up to jitter, or until ctx ends.
func delay(ctx context.Context, d, jitter time.Duration) {
	if jitter > 0 {
		d += rand.N(jitter)
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Probe mounts a diskfs over a scratch directory under dir and unmounts it:
// nil when this machine can mount one, otherwise why not.
func Probe(dir string) error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("disk faults need FUSE: %w (load the fuse module, or give the container /dev/fuse)", err)
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			return errors.New("disk faults need FUSE: fusermount3 is missing (apt-get install fuse3) and this is not root")
		}
	}
	scratch, err := os.MkdirTemp(dir, "diskfs-probe-")
	if err != nil {
		return fmt.Errorf("disk faults: %w", err)
	}
	defer os.RemoveAll(scratch)
	backing, mnt := scratch+"/backing", scratch+"/mnt"
	if err := errors.Join(os.Mkdir(backing, 0o755), os.Mkdir(mnt, 0o755)); err != nil {
		return fmt.Errorf("disk faults: %w", err)
	}
	m, err := Mount(backing, mnt, Options{})
	if err != nil {
		return fmt.Errorf("disk faults need FUSE, which does not mount here: %w", err)
	}
	return m.Unmount()
}
