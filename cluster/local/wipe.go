package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zkchaos/zkchaos/cluster"
)

var _ cluster.Wiper = (*Ensemble)(nil)

// Wipe kills the node's server if it runs, waits until it has exited, then
// removes everything in its data directory and writes myid back, as
// provisioning a replaced disk would. With a diskfs mounted over the data
// directory the files are removed through it, so that it forgets what it
// held unsynced for them, and myid is synced.
func (e *Ensemble) Wipe(ctx context.Context, target cluster.Node) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("wipe: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.killLocked(ctx, n); err != nil {
		return fmt.Errorf("wipe %s: %w", n.Name, err)
	}
	removed, err := emptyDir(n.dataDir)
	if err != nil {
		return fmt.Errorf("wipe %s: %w", n.Name, err)
	}
	if err := os.WriteFile(filepath.Join(n.dataDir, "myid"), []byte(strconv.Itoa(n.ID)+"\n"), 0o644); err != nil {
		return fmt.Errorf("wipe %s: write myid: %w", n.Name, err)
	}
	if n.disk != nil {
		if err := n.disk.Sync(); err != nil {
			return fmt.Errorf("wipe %s: %w", n.Name, err)
		}
	}
	e.log.Info("ZooKeeper node's data wiped", "node", n.Name, "removed_entries", removed)
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
