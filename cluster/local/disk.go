package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/cluster/local/diskfs"
)

// diskBacking is the directory, beside a node's data directory, that holds
// the data while a diskfs is mounted over the data directory.
const diskBacking = "data.disk"

var _ cluster.Disker = (*Ensemble)(nil)

// mountDisks moves every node's data directory aside and mounts a diskfs
// over it that passes through to the moved one (Config.Disk).
func (e *Ensemble) mountDisks() error {
	for _, n := range e.nodes {
		backing := filepath.Join(n.dir, diskBacking)
		if err := os.Rename(n.dataDir, backing); err != nil {
			return fmt.Errorf("mount the disk of %s: %w", n.Name, err)
		}
		if err := os.Mkdir(n.dataDir, 0o755); err != nil {
			return fmt.Errorf("mount the disk of %s: %w", n.Name, errors.Join(err, restoreDataDir(n.dir)))
		}
		m, err := diskfs.Mount(backing, n.dataDir, diskfs.Options{Logger: e.log.With("node", n.Name)})
		if err != nil {
			return fmt.Errorf("mount the disk of %s: %w", n.Name, errors.Join(err, restoreDataDir(n.dir)))
		}
		n.disk = m
	}
	e.log.Info("disks mounted through diskfs", "nodes", len(e.nodes))
	return nil
}

// syncDisks writes back and syncs what the new ensemble's disks hold
// unsynced, as a machine that has run a while would have: ZooKeeper 3.8
// never fsyncs the snapshot it takes when it first starts, and a node
// whose only snapshot a power loss emptied refuses to start ("No snapshot
// found, but there are log entries"), which would hide everything else a
// power loss can show.
func (e *Ensemble) syncDisks() error {
	for _, n := range e.nodes {
		if err := n.syncDisk(); err != nil {
			return fmt.Errorf("sync the disk of %s: %w", n.Name, err)
		}
	}
	return nil
}

// syncDisk syncs the diskfs mounted over n's data directory, if any.
func (n *node) syncDisk() error {
	if n.disk == nil {
		return nil
	}
	return n.disk.Sync()
}

// unmountDisksLocked unmounts the nodes' diskfs mounts, once their servers
// have exited, and moves the data back into the data directories; e.mu
// must be held.
func (e *Ensemble) unmountDisksLocked() error {
	var errs []error
	for _, n := range e.nodes {
		if n.disk == nil {
			continue
		}
		if err := n.disk.Unmount(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		n.disk = nil
		if err := restoreDataDir(n.dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// restoreDataDir moves a node's data back from its diskfs backing
// directory into its (empty, unmounted) data directory.
func restoreDataDir(nodeDir string) error {
	data, backing := filepath.Join(nodeDir, "data"), filepath.Join(nodeDir, diskBacking)
	if err := os.Remove(data); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore data directory: %w", err)
	}
	if err := os.Rename(backing, data); err != nil {
		return fmt.Errorf("restore data directory: %w", err)
	}
	return nil
}

// PowerLoss kills the node's server with SIGKILL, waits until it has
// exited, then drops every write its disk had not synced.
func (e *Ensemble) PowerLoss(ctx context.Context, target cluster.Node) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("power loss: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if n.disk == nil {
		return fmt.Errorf("power loss of %s: the ensemble was started without disk-fault support", n.Name)
	}
	if err := e.killLocked(ctx, n); err != nil {
		return fmt.Errorf("power loss of %s: %w", n.Name, err)
	}
	dropped := n.disk.PowerLoss()
	e.log.Info("ZooKeeper node lost power", "node", n.Name, "dropped_bytes", dropped)
	return nil
}

// SetDiskFaults switches the faults the node's diskfs injects to f; the
// zero DiskFaults clears them.
func (e *Ensemble) SetDiskFaults(_ context.Context, target cluster.Node, f cluster.DiskFaults) error {
	disk := e.Disk(target)
	if disk == nil {
		return fmt.Errorf("disk faults on %s: the ensemble was started without disk-fault support", target.Name)
	}
	h := diskfs.Hooks{
		FsyncDelay: f.FsyncDelay, FsyncJitter: f.FsyncJitter,
		WriteDelay: f.WriteDelay, WriteJitter: f.WriteJitter,
		WriteErrors: f.WriteErrors, FsyncErrors: f.FsyncErrors,
	}
	if f.Full {
		h.SpaceLimit = -1
		if f.FreeBytes > 0 {
			h.SpaceLimit = f.FreeBytes
		}
	}
	disk.SetHooks(h)
	e.log.Info("disk faults set", "node", target.Name, "faults", fmt.Sprintf("%+v", f))
	return nil
}

// Disk returns the diskfs mounted over the node's data directory, or nil.
func (e *Ensemble) Disk(target cluster.Node) *diskfs.FS {
	n, err := e.lookup(target)
	if err != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return n.disk
}

// staleDisks lists the diskfs mounts under dir/nodes/ in
// /proc/self/mountinfo: those a harness that died left behind.
func staleDisks(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	prefixes := []string{filepath.Join(dir, "nodes") + string(filepath.Separator)}
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "nodes")); err == nil {
		prefixes = append(prefixes, real+string(filepath.Separator))
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) || fields[sep+1] != diskfs.FSType {
			continue
		}
		mp := unescapeMount(fields[4])
		if under([]string{mp}, prefixes) {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of a mount point
// in mountinfo.
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountStale detaches a diskfs mount whose server is gone and moves the
// node's data back into its data directory.
func unmountStale(mp string) error {
	err := syscall.Unmount(mp, syscall.MNT_DETACH)
	if err != nil {
		if out, ferr := exec.Command("fusermount3", "-u", "-z", mp).CombinedOutput(); ferr != nil {
			return fmt.Errorf("unmount stale disk %s: %w; fusermount3: %v: %s", mp, err, ferr, bytes.TrimSpace(out))
		}
	}
	if filepath.Base(mp) == "data" {
		return restoreDataDir(filepath.Dir(mp))
	}
	return nil
}
