package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/zkchaos/zkchaos/cluster"
)

var _ cluster.Pauser = (*Ensemble)(nil)

// ErrNotRunning marks errors saying that a node's server is not running, so
// a fault that needs a live process (a pause) cannot apply to it.
var ErrNotRunning = errors.New("node not running")

// How Pause waits for the server to stop.
const (
	// stopPollInterval is how often Pause looks whether every thread stopped.
	stopPollInterval = 2 * time.Millisecond
	// stopTimeout bounds that wait: Pause holds the ensemble's lock.
	stopTimeout = 10 * time.Second
)

// Pause freezes the node's server with SIGSTOP to its process group and
// returns once every thread of the JVM is stopped: the server keeps its
// sockets (the kernel still accepts connections) but answers nothing.
// Pausing a paused node does nothing; pausing a node that is not running
// fails with ErrNotRunning. Kill and Close still work on a paused node.
func (e *Ensemble) Pause(ctx context.Context, target cluster.Node) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("pause %s: the ensemble is closed", n.Name)
	}
	p := n.proc
	if p == nil || p.exited() {
		return fmt.Errorf("pause %s: %w (start it first)", n.Name, ErrNotRunning)
	}
	if n.paused == p {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: SIGSTOP process group %d: %w", n.Name, p.pid, err)
	}
	// From here on the node counts as paused even if waiting fails, so that
	// Resume and Close send it SIGCONT.
	n.paused = p
	if err := waitStopped(ctx, p); err != nil {
		return fmt.Errorf("pause %s: %w", n.Name, err)
	}
	e.log.Info("ZooKeeper node paused", "node", n.Name, "pid", p.pid)
	return nil
}

// Resume thaws the node's server with SIGCONT to its process group. SIGCONT
// is sent to any running node, paused by this ensemble or not (it is
// harmless to a running process), so Resume also heals a stop from
// elsewhere; resuming a node that is not running does nothing.
func (e *Ensemble) Resume(_ context.Context, target cluster.Node) error {
	n, err := e.lookup(target)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := n.proc
	if p == nil || p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("resume %s: SIGCONT process group %d: %w", n.Name, p.pid, err)
	}
	if n.paused == p {
		n.paused = nil
		e.log.Info("ZooKeeper node resumed", "node", n.Name, "pid", p.pid)
	}
	return nil
}

// Paused reports whether the node's running server was paused by Pause and
// not resumed since. A paused node that was killed is not paused any more.
func (e *Ensemble) Paused(target cluster.Node) bool {
	n, err := e.lookup(target)
	if err != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return n.proc != nil && n.paused == n.proc && !n.proc.exited()
}

// thawLocked sends SIGCONT to every paused node, so that nothing this
// ensemble started is left stopped; e.mu must be held. SIGKILL alone would
// end a stopped process too: this is for a process the kill failed to reach.
func (e *Ensemble) thawLocked() []error {
	var errs []error
	for _, n := range e.nodes {
		p := n.proc
		if p == nil || n.paused != p {
			continue
		}
		n.paused = nil
		if p.exited() {
			continue
		}
		if err := syscall.Kill(-p.pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("%s: SIGCONT process group %d: %w", n.Name, p.pid, err))
		}
	}
	return errs
}

// waitStopped waits until every thread of p is stopped, p has exited, or
// ctx ends. A group stop is taken by each thread on its own, shortly after
// SIGSTOP is sent; a thread in uninterruptible sleep (an fsync) stops when
// it returns.
func waitStopped(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	tick := time.NewTicker(stopPollInterval)
	defer tick.Stop()
	for {
		stopped, err := allThreadsStopped(p.pid)
		if err != nil || stopped || p.exited() {
			return nil // gone meanwhile: nothing left to wait for
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for pid %d to stop: %w", p.pid, ctx.Err())
		case <-tick.C:
		}
	}
}

// allThreadsStopped reports whether every thread of pid is stopped (state T
// or t in /proc/PID/task/TID/stat). An error means pid is gone.
func allThreadsStopped(pid int) (bool, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false, err
	}
	for _, t := range tasks {
		state, ok := procState(filepath.Join("/proc", fmt.Sprint(pid), "task", t.Name(), "stat"))
		if !ok {
			continue // the thread ended meanwhile
		}
		if state != 'T' && state != 't' {
			return false, nil
		}
	}
	return true, nil
}

// procState reads the state letter of a /proc stat file.
func procState(path string) (byte, bool) {
	stat, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0, false
	}
	return stat[i+2], true
}
