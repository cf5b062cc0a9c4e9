package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/cluster"
)

var _ cluster.Wiper = (*Ensemble)(nil)

// Wipe kills the node's server if it runs, waits until it has exited, then
// removes everything in its data directory and writes myid back, as
// provisioning a replaced disk would. With a diskfs mounted over the data
// directory the files are removed through it, so that it forgets what it
// held unsynced for them, and myid is synced.
func (e *Ensemble) Wipe(ctx context.Context, target cluster.Node) error {
	return e.whileDown(ctx, target, "wipe", func(n *node) error {
		removed, err := emptyDir(n.dataDir)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(n.dataDir, "myid"), []byte(strconv.Itoa(n.ID)+"\n"), 0o644); err != nil {
			return fmt.Errorf("write myid: %w", err)
		}
		e.log.Info("ZooKeeper node's data wiped", "node", n.Name, "removed_entries", removed)
		return nil
	})
}

// whileDown kills the node's server if it runs, waits until it has exited,
// changes its data with change, and syncs the diskfs mounted over its data
// directory, if any; verb names the change in errors.
func (e *Ensemble) whileDown(ctx context.Context, target cluster.Node, verb string, change func(n *node) error) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.killLocked(ctx, n); err != nil {
		return fmt.Errorf("%s %s: %w", verb, n.Name, err)
	}
	if err := change(n); err != nil {
		return fmt.Errorf("%s %s: %w", verb, n.Name, err)
	}
	if n.disk != nil {
		if err := n.disk.Sync(); err != nil {
			return fmt.Errorf("%s %s: %w", verb, n.Name, err)
		}
	}
	return nil
}

// emptyDir removes every entry of dir, keeping dir, and returns how many
// there were.
func emptyDir(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("empty %s: %w", dir, err)
	}
	for _, ent := range entries {
		if err := os.RemoveAll(filepath.Join(dir, ent.Name())); err != nil {
			return 0, fmt.Errorf("empty %s: %w", dir, err)
		}
	}
	return len(entries), nil
}

// damageLen is how many bytes Corrupt flips: a header's whole magic,
// version and dbid, or a few fields of a record.
const damageLen = 16

// Corrupt kills the node's server if it runs, waits until it has exited,
// then flips every bit of damageLen bytes in a region of its newest
// transaction log or snapshot, and says which file and bytes.
func (e *Ensemble) Corrupt(ctx context.Context, target cluster.Node, d cluster.Damage) (string, error) {
	var what string
	err := e.whileDown(ctx, target, "corrupt", func(n *node) error {
		var err error
		what, err = flipNewest(filepath.Join(n.dataDir, "version-2"), d)
		if err == nil {
			e.log.Info("ZooKeeper node's data corrupted", "node", n.Name, "flipped", what)
		}
		return err
	})
	return what, err
}

// flipNewest flips the region d names of the newest file of its kind in
// dir (the one with the highest zxid in its name) and says what it did,
// e.g. "log.100000001 bytes 4080..4095 (tail)".
func flipNewest(dir string, d cluster.Damage) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("find the newest %s: %w", d.File, err)
	}
	newest, best := "", int64(-1)
	for _, ent := range entries {
		hex, ok := strings.CutPrefix(ent.Name(), d.File+".")
		if !ok || !ent.Type().IsRegular() {
			continue
		}
		if zxid, err := strconv.ParseInt(hex, 16, 64); err == nil && zxid > best {
			newest, best = ent.Name(), zxid
		}
	}
	if newest == "" {
		return "", fmt.Errorf("no %s file in %s", d.File, dir)
	}
	path := filepath.Join(dir, newest)
	content, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", newest, err)
	}
	off, size, err := damageSpan(content, d)
	if err != nil {
		return "", fmt.Errorf("%s: %w", newest, err)
	}
	flipped := make([]byte, size)
	for i := range flipped {
		flipped[i] = ^content[off+i]
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return "", fmt.Errorf("corrupt %s: %w", newest, err)
	}
	_, werr := f.WriteAt(flipped, int64(off))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return "", fmt.Errorf("corrupt %s: %w", newest, err)
	}
	return fmt.Sprintf("%s bytes %d..%d (%s)", newest, off, off+size-1, d.Region), nil
}

// damageSpan is where in a file's content Corrupt flips bits for d: the
// first bytes (header), the middle or the end of what it holds (tail). A
// transaction log is preallocated with zeros, so what it holds ends at its
// last byte that is not zero.
func damageSpan(content []byte, d cluster.Damage) (off, size int, err error) {
	used := len(content)
	if d.File == cluster.DamageLog {
		used = len(bytes.TrimRight(content, "\x00"))
	}
	if used == 0 {
		return 0, 0, errors.New("holds nothing to corrupt")
	}
	size = min(damageLen, used)
	switch d.Region {
	case cluster.DamageHeader:
		return 0, size, nil
	case cluster.DamageMiddle:
		return used/2 - size/2, size, nil
	case cluster.DamageTail:
		return used - size, size, nil
	}
	return 0, 0, fmt.Errorf("unknown region %q (header, middle, tail)", d.Region)
}
