package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zkchaos/zkchaos/cluster/local"
)

// Leftover is what HealLeftovers found and removed in one run directory.
type Leftover struct {
	// Dir is the run directory.
	Dir string
	// Killed are the pids of servers that were still running.
	Killed []int
}

// HealLeftovers removes whatever a harness that was killed left behind in the
// given run directories, or in every run directory under root when none is
// given: ZooKeeper servers still running (found by their configuration under
// the run directory, so an unrelated process is never touched). Proxies and
// clock shifts live inside the harness and the servers' environment, so they
// die with them.
func HealLeftovers(ctx context.Context, root string, dirs []string) ([]Leftover, error) {
	if len(dirs) == 0 {
		found, err := filepath.Glob(filepath.Join(root, "*", "*", "nodes"))
		if err != nil {
			return nil, fmt.Errorf("find run directories under %s: %w", root, err)
		}
		for _, n := range found {
			dirs = append(dirs, filepath.Dir(n))
		}
	}
	var out []Leftover
	var errs []error
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("%s is not a run directory", d))
			continue
		}
		killed, err := local.KillLeftovers(ctx, d)
		if err != nil {
			errs = append(errs, err)
		}
		if len(killed) > 0 {
			out = append(out, Leftover{Dir: d, Killed: killed})
		}
	}
	return out, errors.Join(errs...)
}
