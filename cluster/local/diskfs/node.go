package diskfs

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is a file or directory of the mount: a loopback node whose data
// operations go through the overlay of its backing file.
type node struct {
	fs.LoopbackNode
	fs  *FS
	key fileKey
}

var (
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeStatxer   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeTmpfiler  = (*node)(nil)
)

// backingPath is the node's path in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

// Open opens the backing file read-write where it can (an fsync through a
// read-only descriptor must still write the overlay), never appending (the
// kernel gives every write its offset) nor truncating (a truncation goes to
// the overlay).
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	trunc := flags&syscall.O_TRUNC != 0
	base := int(flags &^ (syscall.O_APPEND | syscall.O_TRUNC | fuse.FMODE_EXEC | syscall.O_ACCMODE))
	fd, err := syscall.Open(n.backingPath(), base|syscall.O_RDWR, 0)
	if err != nil {
		fd, err = syscall.Open(n.backingPath(), base|int(flags&syscall.O_ACCMODE), 0)
	}
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	h := &handle{fd: fd, fs: n.fs, st: n.fs.state(n.key)}
	if trunc {
		if errno := h.truncate(0); errno != 0 {
			syscall.Close(fd)
			return nil, 0, errno
		}
	}
	return h, fuse.FOPEN_DIRECT_IO, 0
}

// Create creates the backing file (metadata passes through) and opens it as
// Open does.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	flags = flags&^(syscall.O_TRUNC|syscall.O_ACCMODE) | syscall.O_RDWR
	inode, lf, _, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	loop := lf.(*fs.LoopbackFile)
	fd, ok := loop.PassthroughFd()
	if !ok {
		loop.Release(ctx)
		return nil, nil, 0, syscall.EBADF
	}
	dup, err := syscall.Dup(fd)
	loop.Release(ctx)
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	st := n.fs.state(inode.Operations().(*node).key)
	st.mu.Lock()
	st.created = true
	st.mu.Unlock()
	return inode, &handle{fd: dup, fs: n.fs, st: st}, fuse.FOPEN_DIRECT_IO, 0
}

// Tmpfile refuses O_TMPFILE: a file with no name has no backing path to
// sync to.
func (n *node) Tmpfile(context.Context, uint32, uint32, *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// CopyFileRange refuses to copy in the kernel, which would bypass the
// overlays; callers fall back to reads and writes.
func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

// size returns the file's size as readers see it, or ok false when it
// has no overlay.
func (n *node) size() (int64, bool) {
	st := n.fs.state(n.key)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ov == nil {
		return 0, false
	}
	return st.ov.size, true
}

// Getattr reports the backing file's attributes with the overlay's size.
func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if errno := n.LoopbackNode.Getattr(ctx, nil, out); errno != 0 {
		return errno
	}
	if size, ok := n.size(); ok {
		out.Size = uint64(size)
		out.Blocks = (uint64(size) + 511) / 512
	}
	return 0
}

// Statx is Getattr for statx(2).
func (n *node) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	if errno := n.LoopbackNode.Statx(ctx, nil, flags, mask, out); errno != 0 {
		return errno
	}
	if size, ok := n.size(); ok {
		out.Size = uint64(size)
		out.Blocks = (uint64(size) + 511) / 512
	}
	return 0
}

// Setattr sends a size change to the overlay and every other change
// through to the backing file.
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		h, _ := f.(*handle)
		if h == nil {
			fd, err := syscall.Open(n.backingPath(), syscall.O_RDONLY, 0)
			if err != nil {
				return fs.ToErrno(err)
			}
			defer syscall.Close(fd)
			h = &handle{fd: fd, fs: n.fs, st: n.fs.state(n.key)}
		}
		if errno := h.truncate(int64(size)); errno != 0 {
			return errno
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
		return errno
	}
	return n.Getattr(ctx, f, out)
}

// Unlink removes the name in the backing directory and forgets the file's
// overlay when that was its last name.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	p := filepath.Join(n.backingPath(), name)
	var st syscall.Stat_t
	known := syscall.Lstat(p, &st) == nil
	if err := syscall.Unlink(p); err != nil {
		return fs.ToErrno(err)
	}
	if known && st.Nlink <= 1 {
		n.fs.forget(keyOf(&st))
	}
	return 0
}

// Rename renames in the backing directory and forgets the overlay of a file
// the rename replaced, when that was its last name.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	var st syscall.Stat_t
	replaced := false
	if p, ok := newParent.(*node); ok && flags&unix.RENAME_EXCHANGE == 0 {
		replaced = syscall.Lstat(filepath.Join(p.backingPath(), newName), &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG
	}
	if errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags); errno != 0 {
		return errno
	}
	if replaced && st.Nlink <= 1 {
		n.fs.forget(keyOf(&st))
	}
	return 0
}

// handle is an open file: a descriptor of the backing file and the state
// of its overlay.
type handle struct {
	fd int
	fs *FS
	st *file
}

var (
	_ fs.FileReader   = (*handle)(nil)
	_ fs.FileWriter   = (*handle)(nil)
	_ fs.FileFsyncer  = (*handle)(nil)
	_ fs.FileFlusher  = (*handle)(nil)
	_ fs.FileReleaser = (*handle)(nil)
)

// backingSize returns the size of the backing file.
func (h *handle) backingSize() (int64, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(h.fd, &st); err != nil {
		return 0, fs.ToErrno(err)
	}
	return st.Size, 0
}

// overlayLocked returns the file's overlay, started if need be; h.st.mu
// must be held.
func (h *handle) overlayLocked() (*overlay, syscall.Errno) {
	if h.st.ov == nil {
		size, errno := h.backingSize()
		if errno != 0 {
			return nil, errno
		}
		h.st.ov = newOverlay(size)
	}
	return h.st.ov, 0
}

// truncate records a truncation in the overlay.
func (h *handle) truncate(size int64) syscall.Errno {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	ov, errno := h.overlayLocked()
	if errno != 0 {
		return errno
	}
	h.fs.stats.unsynced.Add(ov.truncate(size))
	return 0
}

// Read reads the backing file under the overlay.
func (h *handle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if h.st.ov == nil {
		n, err := syscall.Pread(h.fd, buf, off)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		return fuse.ReadResultData(buf[:n]), 0
	}
	size, errno := h.backingSize()
	if errno != 0 {
		return nil, errno
	}
	n, err := h.st.ov.read(h.fd, size, buf, off)
	if err != nil {
		h.fs.log.Error("diskfs read failed", "mountpoint", h.fs.mountpoint, "err", err)
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(buf[:n]), 0
}

// Write records data in the overlay, after the write hooks.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.fs.stats.writes.Add(1)
	hooks := h.fs.hooks.Load()
	delay(ctx, hooks.WriteDelay, hooks.WriteJitter)
	if hooks.WriteErrors > 0 && rand.Float64() < hooks.WriteErrors {
		return 0, syscall.EIO
	}
	if hooks.SpaceLimit != 0 && h.fs.written.Add(int64(len(data))) > max(hooks.SpaceLimit, 0) {
		return 0, syscall.ENOSPC
	}
	if h.fs.stats.unsynced.Load()+int64(len(data)) > h.fs.maxUnsynced {
		h.fs.log.Error("diskfs refuses a write: too much unsynced data", "mountpoint", h.fs.mountpoint,
			"limit_bytes", h.fs.maxUnsynced)
		return 0, syscall.EIO
	}
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	ov, errno := h.overlayLocked()
	if errno != 0 {
		return 0, errno
	}
	h.fs.stats.unsynced.Add(ov.write(off, data))
	return uint32(len(data)), 0
}

// Fsync writes the overlay to the backing file and syncs it, after the
// fsync hooks.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.fs.stats.fsyncs.Add(1)
	hooks := h.fs.hooks.Load()
	delay(ctx, hooks.FsyncDelay, hooks.FsyncJitter)
	if hooks.FsyncErrors > 0 && rand.Float64() < hooks.FsyncErrors {
		return syscall.EIO
	}
	return h.sync()
}

// sync writes the overlay to the backing file and syncs it.
func (h *handle) sync() syscall.Errno {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if h.st.ov == nil {
		if err := syscall.Fdatasync(h.fd); err != nil {
			return fs.ToErrno(err)
		}
		h.st.created = false
		return 0
	}
	size, errno := h.backingSize()
	if errno != 0 {
		return errno
	}
	held := h.st.ov.held()
	if err := h.st.ov.apply(h.fd, size); err != nil {
		h.fs.log.Error("diskfs fsync failed", "mountpoint", h.fs.mountpoint, "err", err)
		return syscall.EIO
	}
	h.st.ov, h.st.created = nil, false
	h.fs.stats.unsynced.Add(-held)
	return 0
}

// Flush is close(2) of one descriptor: nothing to do, close syncs nothing.
func (h *handle) Flush(context.Context) syscall.Errno { return 0 }

// Release closes the backing descriptor, forgetting the overlay of a file
// no name links any more.
func (h *handle) Release(context.Context) syscall.Errno {
	var st syscall.Stat_t
	if syscall.Fstat(h.fd, &st) == nil && st.Nlink == 0 {
		h.fs.forget(keyOf(&st))
	}
	return fs.ToErrno(syscall.Close(h.fd))
}
