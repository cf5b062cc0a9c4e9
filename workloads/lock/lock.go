// Package lock is the lock workload: workers contend for one lock with the
// standard ZooKeeper recipe. Each contender creates an ephemeral sequential
// node under Root; the lowest node holds the lock; every other contender
// watches the next lower node and checks again when it goes. A holder keeps
// the lock for Hold, then deletes its node. Session events are recorded,
// because a holder whose session expired has lost the lock: ZooKeeper has
// deleted its node.
package lock

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	lockcheck "github.com/zkchaos/zkchaos/checker/lock"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
	"github.com/zkchaos/zkchaos/workloads/session"
)

// Root is the znode under which the contenders' nodes live.
const Root = "/zkchaos-lock"

// prefix names the contenders' nodes; ZooKeeper appends the sequence number.
const prefix = "lock-"

// Config is what is particular to the lock workload.
type Config struct {
	// Hold is how long a holder keeps the lock.
	Hold time.Duration
}

// Workload is the lock workload; New makes one.
type Workload struct {
	cfg Config
}

var _ workloads.Workload = (*Workload)(nil)

// New returns a lock workload.
func New(cfg Config) *Workload {
	return &Workload{cfg: cfg}
}

// Checker returns the checkers that judge a lock history: mutual exclusion
// among holders whose sessions were alive, and the evidence that the lock
// was taken and released at all.
func (w *Workload) Checker(time.Duration) checker.Checker {
	return checker.Compose("lock",
		lockcheck.Checker{},
		stats.Checker{Need: []string{lockcheck.Acquire, lockcheck.Release}},
	)
}

// Setup creates Root through the first node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	return workloads.Setup(ctx, env, "lock", nil, Root)
}

// FinalReads reads nothing: every node of the lock is ephemeral, so once
// the workers' sessions are closed there is no state left to compare (the
// session workload checks that ephemeral nodes go with their sessions).
func (w *Workload) FinalReads(context.Context, workloads.Env, workloads.Recorder, int) error {
	return nil
}

// Run starts the workers; each acquires, holds and releases the lock in
// turn, until stop is done and every operation in flight has completed.
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	// The wait for the lock is bounded by half the operation timeout, so
	// that a contender that gives up still has time to remove its node.
	wait := env.OpTimeout / 2
	return session.RunWorkers(stop, env, rec, func(wk *session.Worker) error {
		return w.cycle(wk, wait)
	})
}

// cycle is one acquire, hold and release. After an indeterminate outcome the
// session is closed: a node of ours may be left in the queue, and only the
// end of the session removes it.
func (w *Workload) cycle(wk *session.Worker, wait time.Duration) error {
	c := wk.Client
	acq := history.Op{Type: history.Invoke, F: lockcheck.Acquire}
	done, err := c.Call(acq, func(conn *zk.Conn) history.Op { return acquire(conn, acq, wait) })
	if err != nil {
		return err
	}
	switch done.Type {
	case history.Info:
		c.Close()
		return nil
	case history.Fail:
		return nil
	}
	owner := done.Session
	if len(done.Values) > 0 {
		owner = done.Values[0]
	}
	// A holder that learns its session has ended knows it lost the lock.
	hold := time.NewTimer(w.cfg.Hold)
	select {
	case <-hold.C:
	case <-wk.Sessions.Ended(owner):
		hold.Stop()
	}
	rel := history.Op{Type: history.Invoke, F: lockcheck.Release, Path: done.Path}
	rdone, err := c.Call(rel, func(conn *zk.Conn) history.Op {
		if err := conn.Delete(rel.Path, -1); err != nil {
			return workloads.Outcome(rel, err)
		}
		return workloads.Complete(rel, history.OK)
	})
	if err == nil && rdone.Type == history.Info {
		c.Close()
	}
	return err
}

// acquire runs the lock recipe. An ok completion carries the node (Path),
// its owner session (Values[0]) and its creation zxid. Waiting is bounded
// by wait; a contender that gives up deletes its node and fails.
func acquire(conn *zk.Conn, op history.Op, wait time.Duration) history.Op {
	deadline := time.Now().Add(wait)
	path, err := conn.Create(Root+"/"+prefix, nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return workloads.Outcome(op, err)
	}
	op.Path = path
	found, stat, err := conn.Exists(path)
	switch {
	case err != nil:
		return lost(op, "read own lock node", err)
	case !found || stat == nil:
		return gone(op)
	}
	owner, name := stat.EphemeralOwner, path[len(Root)+1:]
	for {
		children, _, err := conn.Children(Root)
		if err != nil {
			return lost(op, "list contenders", err)
		}
		queue := contenders(children)
		i := sort.SearchStrings(queue, name)
		if i == len(queue) || queue[i] != name {
			return gone(op)
		}
		if i == 0 {
			if conn.SessionID() != owner {
				return gone(op) // the node's session is over; the read was late
			}
			c := workloads.Complete(op, history.OK)
			c.Values, c.Zxid = []int64{owner}, stat.Czxid
			return c
		}
		if !time.Now().Before(deadline) {
			break
		}
		before, _, watch, err := conn.ExistsW(Root + "/" + queue[i-1])
		if err != nil {
			return lost(op, "watch the next lower contender", err)
		}
		if !before {
			continue
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-watch: // deleted, or the watch was dropped: look again
		case <-timer.C:
		}
		timer.Stop()
	}
	// Give up: leave the queue, so that the lock is not passed to a
	// contender that no longer waits for it.
	if err := conn.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return lost(op, fmt.Sprintf("not acquired within %s; remove own lock node", wait), err)
	}
	f := workloads.Complete(op, history.Fail)
	f.Error = fmt.Sprintf("lock not acquired within %s: gave up and removed own lock node", wait)
	return f
}

// contenders returns the contenders' node names in sequence order.
func contenders(children []string) []string {
	var q []string
	for _, c := range children {
		if seq, ok := strings.CutPrefix(c, prefix); ok {
			if _, err := strconv.ParseUint(seq, 10, 64); err == nil {
				q = append(q, c)
			}
		}
	}
	// Sequence numbers are zero-padded to ten digits: names sort in order.
	sort.Strings(q)
	return q
}

// lost is an acquire that failed after its node was created: the node may
// still be in the queue, so the outcome is indeterminate.
func lost(op history.Op, what string, err error) history.Op {
	c := workloads.Complete(op, history.Info)
	c.Error = fmt.Sprintf("%s: %v", what, err)
	return c
}

// gone is an acquire whose node vanished: its session ended, and with it
// the contention.
func gone(op history.Op) history.Op {
	c := workloads.Complete(op, history.Fail)
	c.Error = "own lock node is gone: its session ended"
	return c
}
