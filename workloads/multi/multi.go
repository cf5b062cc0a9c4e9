// Package multi is the transaction workload: K znodes holding integers,
// workers that set two or three of them at once in a ZooKeeper multi
// (guarded, half the time, by checks of the versions they last saw), and
// workers that read every key and confirm the values as one snapshot with a
// check-only multi. Every value is written once, so a snapshot says exactly
// which transactions it saw, and whether it saw all of each.
package multi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/checker/transactions"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// Root is the znode under which the keys live.
const Root = "/zkchaos-multi"

// Config is what is particular to the multi workload.
type Config struct {
	// Keys is the number of znodes; transactions take two or three of
	// them, so at least two are needed.
	Keys int
}

// Workload is the multi workload; New makes one.
type Workload struct {
	cfg  Config
	next atomic.Int64 // last value handed out: values are unique in the run
}

// New returns a multi workload.
func New(cfg Config) *Workload { return &Workload{cfg: cfg} }

// KeyName returns the name of key i as it appears in the history.
func KeyName(i int) string { return workloads.KeyName(i) }

// Path returns the znode path of a key.
func Path(key string) string { return Root + "/" + key }

// Checker returns the transaction checker and the evidence that
// transactions and snapshots succeeded at all.
func (w *Workload) Checker(time.Duration) checker.Checker {
	return checker.Compose("multi",
		transactions.Checker{},
		stats.Checker{Need: []string{transactions.FTxn, history.Read}},
	)
}

func (w *Workload) validate() error {
	if w.cfg.Keys < 2 {
		return fmt.Errorf("multi workload: keys must be at least 2 (a transaction sets two or three keys), got %d", w.cfg.Keys)
	}
	return nil
}

// Setup creates the root and every key with value 0, through the first
// node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	if err := w.validate(); err != nil {
		return err
	}
	return workloads.SetupKeys(ctx, env, "multi", Root, w.cfg.Keys)
}

// Run starts the workers: each step is a snapshot read or a transaction,
// half and half. It returns when stop is done and every operation in flight
// has completed.
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	if err := w.validate(); err != nil {
		return err
	}
	versions := make([]map[int]int32, env.Workers) // version last seen, per worker and key
	for i := range versions {
		versions[i] = map[int]int32{}
	}
	return workloads.RunWorkers(stop, env, rec, func(wk *workloads.Worker) error {
		seen := versions[wk.Index]
		if wk.Rand.IntN(2) == 0 {
			return w.snapshot(wk.Client, seen)
		}
		return w.txn(wk, seen)
	})
}

// txn sets two or three keys to fresh values in one multi. Keys whose
// version the worker saw are checked, each with probability one half, so
// that some transactions fail with a version conflict and must leave no
// trace.
func (w *Workload) txn(wk *workloads.Worker, seen map[int]int32) error {
	n := min(2+wk.Rand.IntN(2), w.cfg.Keys)
	idx := wk.Rand.Perm(w.cfg.Keys)[:n]
	slices.Sort(idx)
	keys := make([]string, n)
	values := make([]int64, n)
	var checks, sets []any
	for p, k := range idx {
		keys[p] = KeyName(k)
		values[p] = w.next.Add(1)
		if v, ok := seen[k]; ok && wk.Rand.IntN(2) == 0 {
			checks = append(checks, &zk.CheckVersionRequest{Path: Path(keys[p]), Version: v})
		}
		sets = append(sets, &zk.SetDataRequest{Path: Path(keys[p]), Data: []byte(strconv.FormatInt(values[p], 10)), Version: -1})
	}
	op := history.Op{Type: history.Invoke, F: transactions.FTxn, Key: transactions.JoinKeys(keys), Values: values}
	reqs := append(checks, sets...)
	done, err := wk.Client.Call(op, func(conn *zk.Conn) history.Op {
		res, err := conn.Multi(reqs...)
		if err = multiError(res, err); err != nil {
			return workloads.Outcome(op, err)
		}
		if len(res) != len(reqs) {
			return workloads.Outcome(op, fmt.Errorf("multi returned %d results for %d operations", len(res), len(reqs)))
		}
		c := workloads.Complete(op, history.OK)
		c.Zxids = make([]int64, n)
		c.Values = values
		for p := range sets {
			if st := res[len(checks)+p].Stat; st != nil {
				c.Zxids[p] = st.Mzxid
			}
		}
		return c
	})
	if err != nil {
		return err
	}
	if done.Type == history.Fail {
		for _, k := range idx {
			delete(seen, k) // some check failed: what was seen is stale
		}
	}
	return nil
}

// multiError returns the error of a multi: the request's, or else the first
// operation's (go-zookeeper returns the first failure as the request's error;
// the operations after it only report their roll-back).
func multiError(res []zk.MultiResponse, err error) error {
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}

// snapshot reads every key, then confirms with a check-only multi that none
// changed: if the check passes, the values were all current when the multi
// committed, one consistent snapshot; if it fails, the read is discarded
// (fail).
func (w *Workload) snapshot(c *workloads.Client, seen map[int]int32) error {
	keys := make([]string, w.cfg.Keys)
	for k := range keys {
		keys[k] = KeyName(k)
	}
	op := history.Op{Type: history.Invoke, F: history.Read, Key: transactions.JoinKeys(keys)}
	// The versions come back on a channel: after a timeout the call's
	// goroutine may still finish, and nobody must wait for it.
	got := make(chan []int32, 1)
	done, err := c.Call(op, func(conn *zk.Conn) history.Op {
		r, vs := confirmedSnapshot(conn, op, keys)
		if r.Type == history.OK {
			got <- vs
		}
		return r
	})
	if err != nil {
		return err
	}
	if done.Type == history.OK {
		select {
		case vs := <-got:
			for k, v := range vs {
				seen[k] = v
			}
		default:
		}
	}
	return nil
}

// confirmedSnapshot is the read of snapshot, also used by the final reads;
// it returns the versions read with an ok result.
func confirmedSnapshot(conn *zk.Conn, op history.Op, keys []string) (history.Op, []int32) {
	values := make([]int64, len(keys))
	zxids := make([]int64, len(keys))
	versions := make([]int32, len(keys))
	checks := make([]any, len(keys))
	for p, k := range keys {
		data, stat, err := conn.Get(Path(k))
		if err != nil {
			return workloads.Outcome(op, err), nil
		}
		v, err := strconv.ParseInt(string(data), 10, 64)
		if err != nil {
			v = -1 // never written by this workload: the checker reports it
		}
		values[p], zxids[p], versions[p] = v, stat.Mzxid, stat.Version
		checks[p] = &zk.CheckVersionRequest{Path: Path(k), Version: stat.Version}
	}
	res, err := conn.Multi(checks...)
	if err = multiError(res, err); err != nil {
		f := workloads.Outcome(op, err)
		if f.Type == history.Fail {
			f.Error = "snapshot not confirmed by the quorum: " + err.Error()
		}
		return f, nil
	}
	c := workloads.Complete(op, history.OK)
	c.Values, c.Zxids = values, zxids
	return c, versions
}

// FinalReads opens a fresh session on every node and takes one confirmed
// snapshot there, so the checker sees that every acknowledged transaction
// survived the faults.
func (w *Workload) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	if err := w.validate(); err != nil {
		return err
	}
	procs := workloads.NewProcesses(firstProcess)
	keys := make([]string, w.cfg.Keys)
	for k := range keys {
		keys[k] = KeyName(k)
	}
	var errs []error
	for _, node := range env.Nodes {
		c := workloads.NewClient(env, node, rec, procs.Next(), procs)
		err := finalRead(ctx, c, keys)
		c.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("final reads on %s: %w", node.Name, err))
		}
	}
	return errors.Join(errs...)
}

// finalRead retries a snapshot until one is confirmed (concurrent writers
// are gone, but a read can still meet a reconnecting session) or ctx ends.
func finalRead(ctx context.Context, c *workloads.Client, keys []string) error {
	for attempt := 0; ; attempt++ {
		ready, err := c.Ready(ctx)
		if err != nil {
			return err
		}
		if ready {
			op := history.Op{Type: history.Invoke, F: history.Read, Key: transactions.JoinKeys(keys)}
			done, err := c.Call(op, func(conn *zk.Conn) history.Op {
				r, _ := confirmedSnapshot(conn, op, keys)
				return r
			})
			if err != nil || done.Type == history.OK {
				return err
			}
		}
		if ctx.Err() != nil || attempt >= 20 {
			return fmt.Errorf("no confirmed snapshot: %w", errors.Join(ctx.Err(), errors.New("gave up")))
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
