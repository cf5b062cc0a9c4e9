package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zkchaos/zkchaos/cluster/local"
)

// Leftover is what HealLeftovers found in one run directory.
type Leftover struct {
	// Dir is the run directory.
	Dir string
	// Killed are the pids of servers that were still running and are gone.
	Killed []int
	// Running are the pids of servers that could not be stopped.
	Running []int
	// SharedMemory are the libfaketime files removed from /dev/shm.
	SharedMemory []string
}

// HealLeftovers removes whatever a harness that was killed left behind in the
// given run directories, or in every run directory at any depth under root
// when none is given (compare puts runs one level deeper): ZooKeeper servers
// still running (found by their configuration under the run directory, so an
// unrelated process is never touched) and the files libfaketime left in
// /dev/shm for servers killed with the harness. Proxies and clock shifts live
// inside the harness and the servers' environment, so they die with them. A
// root or run directory may be reached through symlinks.
func HealLeftovers(ctx context.Context, root string, dirs []string) ([]Leftover, error) {
	if len(dirs) == 0 {
		found, err := runDirsUnder(root)
		if err != nil {
			return nil, err
		}
		dirs = found
	}
	var out []Leftover
	var errs []error
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("%s is not a run directory", d))
			continue
		}
		left, err := local.KillLeftovers(ctx, d)
		if err != nil {
			errs = append(errs, err)
		}
		if len(left.Killed)+len(left.Running)+len(left.SharedMemory) > 0 {
			out = append(out, Leftover{Dir: d, Killed: left.Killed, Running: left.Running, SharedMemory: left.SharedMemory})
		}
	}
	return out, errors.Join(errs...)
}

// runDirsUnder returns every directory under root that holds a nodes/
// directory: a local run's. Root may be a symlink; links below it (each
// scenario's latest) are not followed, so no run is found twice.
func runDirsUnder(root string) ([]string, error) {
	real, err := filepath.EvalSymlinks(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no run ever wrote there
	}
	if err != nil {
		return nil, fmt.Errorf("find run directories under %s: %w", root, err)
	}
	var dirs []string
	err = filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("find run directories under %s: %w", root, err)
		}
		if !d.IsDir() {
			return nil
		}
		if st, err := os.Lstat(filepath.Join(path, "nodes")); err != nil || !st.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(real, path)
		if err != nil {
			return fmt.Errorf("find run directories under %s: %w", root, err)
		}
		dirs = append(dirs, filepath.Join(root, rel))
		return fs.SkipDir // a run holds no runs
	})
	return dirs, err
}
