package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkchaos/zkchaos/internal/proc"
)

// pidsFile is the file in a node's directory that lists, one a line, the
// pid of every server process started for the node: what KillLeftovers
// needs to find libfaketime's files after the processes are gone.
const pidsFile = "server.pids"

// leftoverWait bounds how long KillLeftovers waits for killed servers to
// exit: SIGKILL cannot be caught, so a server still there after that is
// stuck in the kernel and is reported, not waited on.
const leftoverWait = 10 * time.Second

// Leftovers is what KillLeftovers found in a run directory.
type Leftovers struct {
	// Killed are the pids of servers that were running and are gone now.
	Killed []int
	// Running are the pids of servers that still run: SIGKILL failed, or
	// they had not exited by the deadline.
	Running []int
	// SharedMemory are the libfaketime files of dead servers that were
	// removed from /dev/shm.
	SharedMemory []string
	// Disks are the diskfs mounts of dead servers that were unmounted,
	// their data moved back into the data directories.
	Disks []string
}

// KillLeftovers kills every ZooKeeper server that an ensemble in run
// directory dir started and that still runs, e.g. after the harness itself
// was stopped without dying (a dead harness takes its servers with it), and
// removes the files libfaketime left in /dev/shm for servers that were
// killed, and unmounts the diskfs mounts of its nodes (moving their data
// back). It finds servers in /proc by their command line (MainClass and a
// zoo.cfg under dir/nodes/, symlinks resolved on both sides), so a recorded
// pid that was reused by an unrelated process is never touched. It sends
// SIGKILL to each one's process group and to the process itself (a server
// started by something else may lead no group), waits until they are gone
// (at most leftoverWait) and reports which are gone and which still run; a
// server still running is also an error.
func KillLeftovers(ctx context.Context, dir string) (Leftovers, error) {
	var left Leftovers
	abs, err := filepath.Abs(dir)
	if err != nil {
		return left, fmt.Errorf("kill leftovers of %s: %w", dir, err)
	}
	pids, err := serversOf(abs)
	if err != nil {
		return left, fmt.Errorf("kill leftovers of %s: %w", abs, err)
	}
	var errs []error
	for _, pid := range pids {
		// The group first, so that anything the server started dies too;
		// ESRCH there only means it leads no group.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill leftover server pid %d of %s: %w", pid, abs, err))
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, leftoverWait)
	defer cancel()
	left.Killed, left.Running = awaitExit(waitCtx, pids)
	if len(left.Running) > 0 {
		errs = append(errs, fmt.Errorf("kill leftovers of %s: server pid(s) %v still run after SIGKILL: %w", abs, left.Running, waitCtx.Err()))
	}
	removed, err := removeFaketimeFiles(abs)
	left.SharedMemory = removed
	if err != nil {
		errs = append(errs, fmt.Errorf("kill leftovers of %s: %w", abs, err))
	}
	if len(left.Running) == 0 {
		disks, err := staleDisks(abs)
		errs = append(errs, err)
		for _, mp := range disks {
			if err := unmountStale(mp); err != nil {
				errs = append(errs, fmt.Errorf("kill leftovers of %s: %w", abs, err))
				continue
			}
			left.Disks = append(left.Disks, mp)
		}
	}
	return left, errors.Join(errs...)
}

// awaitExit waits until every pid has exited or ctx ends, and splits pids
// into those gone and those still running.
func awaitExit(ctx context.Context, pids []int) (gone, running []int) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		gone, running = nil, nil
		for _, pid := range pids {
			if proc.Alive(pid) {
				running = append(running, pid)
			} else {
				gone = append(gone, pid)
			}
		}
		if len(running) == 0 {
			return gone, nil
		}
		select {
		case <-ctx.Done():
			return gone, running
		case <-tick.C:
		}
	}
}

// recordPID appends pid to the node directory's list of server pids.
func recordPID(nodeDir string, pid int) error {
	f, err := os.OpenFile(filepath.Join(nodeDir, pidsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record pid %d: %w", pid, err)
	}
	_, werr := fmt.Fprintln(f, pid)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("record pid %d: %w", pid, err)
	}
	return nil
}

// removeFaketimeFiles removes libfaketime's files of every server the run
// directory's nodes recorded that no longer runs; a pid that runs again
// (reused by another process) is left alone. It returns what it removed.
func removeFaketimeFiles(dir string) ([]string, error) {
	pids, err := recordedPIDs(dir)
	var removed []string
	errs := []error{err}
	for _, pid := range pids {
		if proc.Alive(pid) {
			continue
		}
		for _, f := range faketimeFiles(pid) {
			switch err := os.Remove(f); {
			case err == nil:
				removed = append(removed, f)
			case !errors.Is(err, fs.ErrNotExist):
				errs = append(errs, fmt.Errorf("remove libfaketime's %s: %w", f, err))
			}
		}
	}
	return removed, errors.Join(errs...)
}

// recordedPIDs returns the pid of every server process the run directory's
// nodes recorded.
func recordedPIDs(dir string) ([]int, error) {
	lists, err := filepath.Glob(filepath.Join(dir, "nodes", "*", pidsFile))
	if err != nil {
		return nil, fmt.Errorf("find server pids: %w", err)
	}
	var pids []int
	var errs []error
	for _, list := range lists {
		p, err := readPIDs(list)
		pids = append(pids, p...)
		errs = append(errs, err)
	}
	return pids, errors.Join(errs...)
}

// readPIDs reads a node's list of server pids, skipping what is not a pid
// (a line torn by a crash).
func readPIDs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read server pids: %w", err)
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if pid, err := strconv.Atoi(sc.Text()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// serversOf lists the pids of running ZooKeeper servers whose zoo.cfg is
// under dir/nodes/, comparing the paths as written and with every symlink
// resolved: a run directory reached through a link is the same directory.
func serversOf(dir string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	nodes := filepath.Join(dir, "nodes")
	prefixes := []string{nodes + string(filepath.Separator)}
	if real, err := filepath.EvalSymlinks(nodes); err == nil && real != nodes {
		prefixes = append(prefixes, real+string(filepath.Separator))
	}
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
		cfg := string(args[len(args)-1])
		if filepath.Base(cfg) != "zoo.cfg" {
			continue
		}
		if under(serverPaths(pid, cfg), prefixes) && proc.Alive(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// serverPaths returns a server's zoo.cfg path as its command line gives it
// (made absolute against its working directory) and with symlinks resolved.
func serverPaths(pid int, cfg string) []string {
	if !filepath.IsAbs(cfg) {
		cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
		if err != nil {
			return nil
		}
		cfg = filepath.Join(cwd, cfg)
	}
	paths := []string{cfg}
	if real, err := filepath.EvalSymlinks(cfg); err == nil && real != cfg {
		paths = append(paths, real)
	}
	return paths
}

// under reports whether any of paths starts with any of prefixes.
func under(paths, prefixes []string) bool {
	for _, p := range paths {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
	}
	return false
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

// FaketimeFiles lists the libfaketime files in /dev/shm that belong to
// servers run directory dir recorded: what KillLeftovers removes once the
// servers are gone.
func FaketimeFiles(dir string) ([]string, error) {
	pids, err := recordedPIDs(dir)
	var found []string
	for _, pid := range pids {
		for _, f := range faketimeFiles(pid) {
			if _, err := os.Stat(f); err == nil {
				found = append(found, f)
			}
		}
	}
	return found, err
}

// RunLeftovers is what HealRuns found in one run directory.
type RunLeftovers struct {
	// Dir is the run directory.
	Dir string
	Leftovers
}

// HealRuns removes whatever a harness that was killed left behind in the
// given run directories, or in every run directory at any depth under root
// when none is given (compare puts runs one level deeper): ZooKeeper servers
// still running and libfaketime's files (see KillLeftovers). Proxies and
// clock shifts live inside the harness and the servers' environment, so they
// die with them; diskfs mounts outlive a dead harness and are unmounted. A root or run directory may be reached through symlinks.
func HealRuns(ctx context.Context, root string, dirs []string) ([]RunLeftovers, error) {
	if len(dirs) == 0 {
		found, err := runDirsUnder(root)
		if err != nil {
			return nil, err
		}
		dirs = found
	}
	var out []RunLeftovers
	var errs []error
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("%s is not a run directory", d))
			continue
		}
		left, err := KillLeftovers(ctx, d)
		if err != nil {
			errs = append(errs, err)
		}
		if len(left.Killed)+len(left.Running)+len(left.SharedMemory)+len(left.Disks) > 0 {
			out = append(out, RunLeftovers{Dir: d, Leftovers: left})
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
