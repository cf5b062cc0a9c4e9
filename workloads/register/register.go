// Package register is the compare-and-set register workload: K znodes that
// hold integers, and W worker processes that read, write and compare-and-set
// them, each with its own ZooKeeper session pinned to one node.
package register

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/linearizable"
	"github.com/zkchaos/zkchaos/checker/sequential"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// Root is the znode under which the registers live.
const Root = "/zkchaos-register"

// Read modes.
const (
	ReadPlain  = "plain"
	ReadSync   = "sync"
	ReadQuorum = "quorum"
)

// Config is what is particular to the register workload.
type Config struct {
	// Keys is the number of registers.
	Keys int
	// ReadMode is "plain", "sync" or "quorum".
	ReadMode string
	// ReadWeight, WriteWeight and CASWeight give the operation mix.
	ReadWeight, WriteWeight, CASWeight float64
}

// Workload is the register workload; New makes one.
type Workload struct {
	cfg    Config
	values []atomic.Int64 // last value handed out per key: written values are unique per key
}

// New returns a register workload.
func New(cfg Config) *Workload {
	return &Workload{cfg: cfg, values: make([]atomic.Int64, cfg.Keys)}
}

// KeyName returns the name of register i as it appears in the history.
func KeyName(i int) string { return workloads.KeyName(i) }

// Path returns the znode path of a register.
func Path(key string) string { return Root + "/" + key }

// Checker returns the checkers that judge a register history, each testing
// what ZooKeeper promises for the read mode and no more:
// linearizability per key (of every operation for quorum reads; of the
// writes alone for plain and sync reads, which are not linearizable); the
// sequential consistency every read has (per-session monotonic,
// read-your-writes, no phantom values, writes in real-time order); the count
// of stale reads, allowed for plain and sync reads and reported, never
// judged; and the evidence that reads and writes succeeded at all.
func (w *Workload) Checker(budget time.Duration) checker.Checker {
	return checker.Compose("register",
		linearizable.Checker{Budget: budget, ReadMode: w.cfg.ReadMode, VisualizeAllBelow: 2000},
		sequential.Checker{},
		sequential.StaleReads{ReadMode: w.cfg.ReadMode},
		stats.Checker{Need: []string{history.Read, history.Write}},
	)
}

// Setup creates the root and every register with value 0 (version 0), through
// the first node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	return workloads.SetupKeys(ctx, env, "register", Root, w.cfg.Keys)
}

// Run starts the workers and returns when stop is done and every operation in
// flight has completed (each is bounded by OpTimeout).
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	versions := make([]map[int]int32, env.Workers) // version last read per worker and key, for cas
	for i := range versions {
		versions[i] = map[int]int32{}
	}
	return workloads.RunWorkers(stop, env, rec, func(wk *workloads.Worker) error {
		seen := versions[wk.Index]
		k := wk.Rand.IntN(w.cfg.Keys)
		op := history.Op{Type: history.Invoke, Key: KeyName(k)}
		var do func(*zk.Conn) history.Op
		switch f := w.pick(wk); {
		case f == history.CAS && hasKey(seen, k):
			op.F = history.CAS
			op.Value = history.Int64(w.values[k].Add(1))
			op.Expect = history.Int32(seen[k])
			do = func(c *zk.Conn) history.Op { return set(c, op, *op.Expect) }
		case f == history.Write:
			op.F = history.Write
			op.Value = history.Int64(w.values[k].Add(1))
			do = func(c *zk.Conn) history.Op { return set(c, op, -1) }
		default: // reads, and cas before anything was read
			op.F = history.Read
			do = func(c *zk.Conn) history.Op { return read(c, op, w.cfg.ReadMode) }
		}
		done, err := wk.Client.Call(op, do)
		if err == nil && done.Type == history.OK && done.Version != nil {
			seen[k] = *done.Version
		}
		return err
	})
}

// FinalReads opens a fresh session on every node and reads every register
// through the quorum, so the checker sees what each replica ended with.
func (w *Workload) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	procs := workloads.NewProcesses(firstProcess)
	for _, node := range env.Nodes {
		c := workloads.NewClient(env, node, rec, procs.Next(), procs)
		for k := 0; k < w.cfg.Keys; k++ {
			if err := c.AwaitSession(ctx); err != nil {
				c.Close()
				return fmt.Errorf("final reads on %s: %w", node.Name, err)
			}
			op := history.Op{Type: history.Invoke, F: history.Read, Key: KeyName(k)}
			if _, err := c.Call(op, func(conn *zk.Conn) history.Op { return quorumRead(conn, op) }); err != nil {
				c.Close()
				return err
			}
		}
		c.Close()
	}
	return nil
}

func (w *Workload) pick(wk *workloads.Worker) string {
	c := w.cfg
	x := wk.Rand.Float64() * (c.ReadWeight + c.WriteWeight + c.CASWeight)
	switch {
	case x < c.ReadWeight:
		return history.Read
	case x < c.ReadWeight+c.WriteWeight:
		return history.Write
	default:
		return history.CAS
	}
}

func hasKey(m map[int]int32, k int) bool {
	_, ok := m[k]
	return ok
}

// set is a blind write (version -1) or a compare-and-set on version.
func set(conn *zk.Conn, op history.Op, version int32) history.Op {
	stat, err := conn.Set(Path(op.Key), []byte(strconv.FormatInt(*op.Value, 10)), version)
	if err != nil {
		return workloads.Outcome(op, err)
	}
	c := workloads.Complete(op, history.OK)
	c.Version = history.Int32(stat.Version)
	c.Zxid = stat.Mzxid
	return c
}

// read reads in the given mode.
func read(conn *zk.Conn, op history.Op, mode string) history.Op {
	switch mode {
	case ReadPlain:
		return plainRead(conn, op)
	case ReadSync:
		if _, err := conn.Sync(Path(op.Key)); err != nil {
			return workloads.Outcome(op, err)
		}
		return plainRead(conn, op)
	default:
		return quorumRead(conn, op)
	}
}

func plainRead(conn *zk.Conn, op history.Op) history.Op {
	data, stat, err := conn.Get(Path(op.Key))
	if err != nil {
		return workloads.Outcome(op, err)
	}
	v, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		// A value that is not a number was never written by this workload:
		// record it as read so the checker sees the anomaly.
		v = -1
	}
	c := workloads.Complete(op, history.OK)
	c.Value = history.Int64(v)
	c.Version = history.Int32(stat.Version)
	c.Zxid = stat.Mzxid
	return c
}

// quorumRead reads the znode from the connected server, then confirms the
// version read with a check-only multi, which the leader proposes to the
// quorum. If the check passes, the value read was current when the multi
// committed: the read linearizes there. If it fails, the read is discarded.
func quorumRead(conn *zk.Conn, op history.Op) history.Op {
	c := plainRead(conn, op)
	if c.Type != history.OK {
		return c
	}
	res, err := conn.Multi(&zk.CheckVersionRequest{Path: Path(op.Key), Version: *c.Version})
	if err == nil {
		for _, r := range res {
			if r.Error != nil {
				err = r.Error
				break
			}
		}
	}
	if err != nil {
		f := workloads.Outcome(op, err)
		if f.Type == history.Fail {
			f.Error = "read not confirmed by the quorum: " + err.Error()
		}
		return f
	}
	return c
}
