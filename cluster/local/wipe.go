package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

var _ cluster.Wiper = (*Ensemble)(nil)

// Wipe kills the node's server if it runs, waits until it has exited, then
// removes everything in its data directory and writes myid back, as
// provisioning a replaced disk would. With a diskfs mounted over the data
// directory the files are removed through it, so that it forgets what it
// held unsynced for them, and myid is synced.
func (e *Ensemble) Wipe(ctx context.Context, target cluster.Node) error {
	return e.whileDown(ctx, target, "wipe", func(n *node) error {
		removed, err := wipeData(n)
		if err == nil {
			e.log.Info("ZooKeeper node's data wiped", "node", n.Name, "removed_entries", removed)
		}
		return err
	})
}

// wipeData empties n's data directory and writes myid back; it returns how
// many entries it removed. The server must be down.
func wipeData(n *node) (int, error) {
	removed, err := emptyDir(n.dataDir)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(n.dataDir, "myid"), []byte(strconv.Itoa(n.ID)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("write myid: %w", err)
	}
	n.damaged = false
	return removed, nil
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
	if err := n.syncDisk(); err != nil {
		return fmt.Errorf("%s %s: %w", verb, n.Name, err)
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
		if err != nil {
			return err
		}
		n.damaged = true
		e.log.Info("ZooKeeper node's data corrupted", "node", n.Name, "flipped", what)
		return logFileFor(n.logPath).note(fmt.Sprintf("%s: %s ===", history.LogMarkDamaged, what))
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

// integrityErrors are what ZooKeeper 3.8 says when it refuses to load data
// that fails its own checks: a transaction log or snapshot whose magic
// number, checksum or record length is wrong, or no snapshot left valid.
var integrityErrors = regexp.MustCompile(`has invalid magic number|CRC check failed|Unreasonable length|` +
	`Not able to find valid snapshots|No snapshot found, but there are log entries`)

// dataLoaded is the line a server logs once its data is loaded.
var dataLoaded = regexp.MustCompile(`Snapshot loaded in \d+ ms, highest zxid is`)

// damageVerdictTimeout bounds how long Start waits for a server on damaged
// data to load it or refuse it.
const damageVerdictTimeout = 30 * time.Second

// repairIfRefused follows run p of n, started on data Corrupt damaged,
// until the server has loaded the data (then the data counts as
// accepted: whether the server serves it faithfully is for the checkers)
// or has exited. When it exited refusing the data with one of ZooKeeper's
// integrity errors, as it must rather than serve damaged data, the refusal
// is noted in its log (history.LogMarkRefused), its data directory wiped
// and the server started again, as an operator replacing the disk would:
// it then syncs from the leader. A run that exits for another reason is
// left down for the health checks to report.
func (e *Ensemble) repairIfRefused(ctx context.Context, n *node, p *process) error {
	lf := logFileFor(n.logPath)
	deadline := time.NewTimer(damageVerdictTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-p.done:
			if p.killed.Load() {
				return nil
			}
			out, err := lf.currentRun()
			if err != nil {
				return fmt.Errorf("start %s on damaged data: %w", n.Name, err)
			}
			cause := integrityErrors.Find(out)
			if cause == nil {
				return nil
			}
			return e.replaceDisk(n, p, string(cause))
		case <-poll.C:
			out, err := lf.currentRun()
			if err != nil {
				return fmt.Errorf("start %s on damaged data: %w", n.Name, err)
			}
			if dataLoaded.Match(out) {
				e.mu.Lock()
				if n.proc == p {
					n.damaged = false
				}
				e.mu.Unlock()
				return nil
			}
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("start %s on damaged data: %w", n.Name, ctx.Err())
		}
	}
}

// replaceDisk notes that run p of n refused its damaged data (cause), wipes
// the data directory and starts the server again, unless another run has
// begun meanwhile.
func (e *Ensemble) replaceDisk(n *node, p *process, cause string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n.proc != p || e.closed {
		return nil
	}
	note := fmt.Sprintf("%s (%s); its data directory is wiped, as a replaced disk would be ===", history.LogMarkRefused, cause)
	if err := logFileFor(n.logPath).note(note); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	removed, err := wipeData(n)
	if err == nil {
		err = n.syncDisk()
	}
	if err != nil {
		return fmt.Errorf("start %s: replace the disk it refused: %w", n.Name, err)
	}
	e.log.Info("ZooKeeper node refused its damaged data: data wiped, node started again",
		"node", n.Name, "cause", cause, "removed_entries", removed)
	return e.spawnLocked(n)
}
