package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// KillLeftovers kills every ZooKeeper server that an ensemble in run
// directory dir started and that still runs, e.g. after the harness itself
// was stopped without dying (a dead harness takes its servers with it). It
// finds them in /proc by their command line (MainClass and a zoo.cfg under
// dir/nodes/), so a recorded pid that was reused by an unrelated process is
// never touched; it sends SIGKILL to each one's process group, waits until
// they are gone and returns their pids.
func KillLeftovers(ctx context.Context, dir string) ([]int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("kill leftovers of %s: %w", dir, err)
	}
	pids, err := serversOf(abs)
	if err != nil {
		return nil, fmt.Errorf("kill leftovers of %s: %w", abs, err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			// Not the leader of its own group (started by something else):
			// kill the process alone.
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return pids, fmt.Errorf("kill leftover server pid %d of %s: %w", pid, abs, err)
			}
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, pid := range pids {
		for alive(pid) {
			select {
			case <-ctx.Done():
				return pids, fmt.Errorf("kill leftovers of %s: waiting for pid %d to exit: %w", abs, pid, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return pids, nil
}

// serversOf lists the pids of running ZooKeeper servers whose zoo.cfg is
// under dir/nodes/.
func serversOf(dir string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	prefix := []byte(filepath.Join(dir, "nodes") + string(filepath.Separator))
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
		if len(args) < 2 || string(args[len(args)-2]) != MainClass {
			continue
		}
		cfg := args[len(args)-1]
		if bytes.HasPrefix(cfg, prefix) && bytes.HasSuffix(cfg, []byte("/zoo.cfg")) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

// Servers lists the pids of ZooKeeper servers of run directory dir that are
// still running, without touching them: what KillLeftovers would kill.
func Servers(dir string) ([]int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("servers of %s: %w", dir, err)
	}
	return serversOf(abs)
}
