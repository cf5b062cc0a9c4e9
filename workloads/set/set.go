// Package set is the unique-create workload: worker processes add elements,
// unique across the run, to a set kept as the children of one znode. Half
// the adds are plain creates of a znode named after the element, half are
// sequential creates that carry the element in their data (so that a create
// applied twice shows as the element present twice). After every fault is
// healed each node is read in turn (sync, then the children), and the
// checker holds every node to every acknowledged add.
package set

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	setcheck "github.com/zkchaos/zkchaos/checker/set"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// Root is the znode under which the elements live.
const Root = "/zkchaos-set"

// Name prefixes of the elements' znodes: plain creates are named
// PlainPrefix+element, sequential creates SequentialPrefix+number.
const (
	PlainPrefix      = "e"
	SequentialPrefix = "s-"
)

// finalReadTimeout bounds one final read: it fetches the data of every
// sequential znode, far more work than a worker's operation.
const finalReadTimeout = 15 * time.Second

// nodeReadBudget bounds the final reads of one node, so that a node that
// does not answer leaves time for the others.
const nodeReadBudget = 20 * time.Second

// Config is what is particular to the set workload.
type Config struct {
	// PlainWeight and SequentialWeight give the mix of plain and sequential
	// creates; both zero means half and half.
	PlainWeight, SequentialWeight float64
}

// Workload is the set workload; New makes one.
type Workload struct {
	cfg  Config
	next atomic.Int64 // last element handed out: elements are unique in the run
}

// New returns a set workload.
func New(cfg Config) *Workload {
	if cfg.PlainWeight <= 0 && cfg.SequentialWeight <= 0 {
		cfg.PlainWeight, cfg.SequentialWeight = 1, 1
	}
	return &Workload{cfg: cfg}
}

// Checker returns the checkers that judge a set history: no acknowledged add
// lost and nothing invented, on every node; and evidence that adds and final
// reads succeeded at all.
func (w *Workload) Checker(time.Duration) checker.Checker {
	return checker.Compose("set",
		setcheck.Checker{},
		stats.Checker{Need: []string{setcheck.Add, history.Read}},
	)
}

// Setup creates the root through the first node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	return workloads.Setup(ctx, env, "set", nil, Root)
}

// Run starts the workers and returns when stop is done and every operation in
// flight has completed (each is bounded by OpTimeout).
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	return workloads.RunWorkers(stop, env, rec, func(wk *workloads.Worker) error {
		e := w.next.Add(1)
		op := history.Op{Type: history.Invoke, F: setcheck.Add, Value: history.Int64(e)}
		var flags int32
		if wk.Rand.Float64()*(w.cfg.PlainWeight+w.cfg.SequentialWeight) < w.cfg.SequentialWeight {
			op.Path, flags = Root+"/"+SequentialPrefix, zk.FlagSequence
		} else {
			op.Path = Root + "/" + PlainPrefix + strconv.FormatInt(e, 10)
		}
		_, err := wk.Client.Call(op, func(conn *zk.Conn) history.Op { return add(conn, op, flags) })
		return err
	})
}

// add creates the element's znode; an ok completion carries the path
// ZooKeeper returned.
func add(conn *zk.Conn, op history.Op, flags int32) history.Op {
	path, err := conn.Create(op.Path, []byte(strconv.FormatInt(*op.Value, 10)), flags, zk.WorldACL(zk.PermAll))
	if err != nil {
		return workloads.Outcome(op, err)
	}
	c := workloads.Complete(op, history.OK)
	c.Path = path
	return c
}

// FinalReads reads the whole set from every node, one after another, each
// with a fresh session: sync, then the children, then the data of every
// sequential znode. A node that cannot be read after a few tries is left
// out, which the checker reports.
func (w *Workload) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	env.OpTimeout = max(env.OpTimeout, finalReadTimeout)
	read := workloads.FinalRead{
		What:   "the set",
		Op:     history.Op{Type: history.Invoke, F: history.Read, Path: Root},
		Read:   readSet,
		Budget: nodeReadBudget,
	}
	return read.EachNode(ctx, env, rec, workloads.NewProcesses(firstProcess))
}

// readSet syncs the connected server with the leader and reads the elements
// it holds: plain znodes by name, sequential znodes by data; a missing root
// reads as the empty set. A name or data
// that is not an element of this workload is read as -1, an element never
// added, so that the checker reports it.
func readSet(conn *zk.Conn, op history.Op) history.Op {
	if _, err := conn.Sync(Root); err != nil {
		return workloads.Outcome(op, fmt.Errorf("sync: %w", err))
	}
	children, stat, err := conn.Children(Root)
	if errors.Is(err, zk.ErrNoNode) {
		// The root that Setup created is gone (every node lost power
		// before it was synced, say): the set is empty, and every
		// acknowledged element is lost, which the checker reports.
		return workloads.Complete(op, history.OK)
	}
	if err != nil {
		return workloads.Outcome(op, fmt.Errorf("children: %w", err))
	}
	values := make([]int64, 0, len(children))
	var sequential []string
	for _, name := range children {
		switch {
		case strings.HasPrefix(name, SequentialPrefix):
			sequential = append(sequential, Root+"/"+name)
		case strings.HasPrefix(name, PlainPrefix):
			values = append(values, workloads.ParseElement(strings.TrimPrefix(name, PlainPrefix)))
		default:
			values = append(values, -1)
		}
	}
	data, err := workloads.GetAll(conn, sequential)
	if err != nil {
		return workloads.Outcome(op, err)
	}
	for _, d := range data {
		values = append(values, workloads.ParseElement(string(d)))
	}
	c := workloads.Complete(op, history.OK)
	c.Values = values
	c.Zxid = stat.Pzxid
	return c
}
