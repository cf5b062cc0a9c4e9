// Package queue is the FIFO queue workload, after ZooKeeper's queue recipe:
// an enqueue creates a sequential znode under one root holding a unique
// element; a dequeue lists the children, takes the lowest name, reads its
// element and deletes it (the next lowest when another worker was faster).
// After every fault is healed each node's queue is read (sync, children,
// data) and then whatever remains is drained through one node, so every
// acknowledged element must come out exactly once.
package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	queuecheck "github.com/zkchaos/zkchaos/checker/queue"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// Root is the znode under which the queue's elements live.
const Root = "/zkchaos-queue"

// Prefix is the path an enqueue asks for; ZooKeeper appends ten digits.
const Prefix = Root + "/q-"

// Defaults of Config.
const (
	defaultEnqueueWeight = 3
	defaultDequeueWeight = 2
	defaultMaxTries      = 10
)

const (
	// finalOpTimeout bounds one operation of the final reads and the drain,
	// which read every element.
	finalOpTimeout = 15 * time.Second
	// nodeReadBudget bounds the final read of one node, so that a node that
	// does not answer leaves time for the others.
	nodeReadBudget = 15 * time.Second
	// drainFailures is how many dequeues in a row may fail (other than
	// finding the queue empty) before the drain gives up.
	drainFailures = 20
)

// Config is what is particular to the queue workload.
type Config struct {
	// EnqueueWeight and DequeueWeight give the operation mix; both zero
	// means 3:2, so that the queue grows and dequeues have a choice.
	EnqueueWeight, DequeueWeight float64
	// MaxTries bounds how many names one dequeue tries when others take
	// them first (default 10).
	MaxTries int
}

// Workload is the queue workload; New makes one.
type Workload struct {
	cfg  Config
	next atomic.Int64 // last element handed out: elements are unique in the run
}

// New returns a queue workload.
func New(cfg Config) *Workload {
	if cfg.EnqueueWeight <= 0 && cfg.DequeueWeight <= 0 {
		cfg.EnqueueWeight, cfg.DequeueWeight = defaultEnqueueWeight, defaultDequeueWeight
	}
	if cfg.MaxTries <= 0 {
		cfg.MaxTries = defaultMaxTries
	}
	return &Workload{cfg: cfg}
}

// Checker returns the checkers that judge a queue history: nothing lost,
// dequeued twice, invented or taken out of order; and evidence that
// enqueues, dequeues and final reads succeeded at all.
func (w *Workload) Checker(time.Duration) checker.Checker {
	return checker.Compose("queue",
		queuecheck.Checker{},
		stats.Checker{Need: []string{queuecheck.Enqueue, queuecheck.Dequeue, history.Read}},
	)
}

// Setup creates the root through the first node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	return workloads.Setup(ctx, env, "queue", nil, Root)
}

// Run starts the workers and returns when stop is done and every operation in
// flight has completed (each is bounded by OpTimeout).
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	return workloads.RunWorkers(stop, env, rec, func(wk *workloads.Worker) error {
		var err error
		if wk.Rand.Float64()*(w.cfg.EnqueueWeight+w.cfg.DequeueWeight) < w.cfg.EnqueueWeight {
			op := history.Op{Type: history.Invoke, F: queuecheck.Enqueue, Value: history.Int64(w.next.Add(1)), Path: Prefix}
			_, err = wk.Client.Call(op, func(conn *zk.Conn) history.Op { return enqueue(conn, op) })
		} else {
			op := history.Op{Type: history.Invoke, F: queuecheck.Dequeue, Path: Root}
			_, err = wk.Client.Call(op, func(conn *zk.Conn) history.Op {
				done, _ := dequeue(conn, op, nil, false, w.cfg.MaxTries)
				return done
			})
		}
		return err
	})
}

// enqueue creates a sequential znode holding the element; an ok completion
// carries the name ZooKeeper gave it.
func enqueue(conn *zk.Conn, op history.Op) history.Op {
	path, err := conn.Create(Prefix, []byte(strconv.FormatInt(*op.Value, 10)), zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return workloads.Outcome(op, err)
	}
	c := workloads.Complete(op, history.OK)
	c.Path = path
	return c
}

// dequeue takes the lowest element: from names (sorted children of Root
// listed earlier by this session) when given, else from a fresh listing,
// after a sync when sync is set. It tries at most tries names, moving on
// when one is already gone. It returns the completion and the names it did
// not try.
//
// Only the delete can leave the outcome open: any failure before it is a
// definite fail, because nothing was removed. An indeterminate delete
// records the element it tried to take, so the checker knows which one it
// may have removed.
func dequeue(conn *zk.Conn, op history.Op, names []string, sync bool, tries int) (history.Op, []string) {
	if names == nil {
		var err error
		if names, _, err = list(conn, sync); err != nil {
			return failed(op, err), nil
		}
	}
	if len(names) == 0 {
		f := workloads.Complete(op, history.Fail)
		f.Error = queuecheck.Empty
		return f, nil
	}
	for i, name := range names {
		if i == tries {
			break
		}
		path := Root + "/" + name
		data, stat, err := conn.Get(path)
		if errors.Is(err, zk.ErrNoNode) {
			continue // taken by another worker
		}
		if err != nil {
			return failed(op, fmt.Errorf("get %s: %w", path, err)), names[i:]
		}
		err = conn.Delete(path, stat.Version)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		rest := names[i+1:]
		if err != nil {
			c := workloads.Outcome(op, fmt.Errorf("delete %s: %w", path, err))
			if c.Type == history.Info {
				c.Value, c.Path = history.Int64(workloads.ParseElement(string(data))), path
			}
			return c, rest
		}
		c := workloads.Complete(op, history.OK)
		c.Value, c.Path = history.Int64(workloads.ParseElement(string(data))), path
		c.Zxid, c.Version = stat.Czxid, history.Int32(stat.Version)
		return c, rest
	}
	f := workloads.Complete(op, history.Fail)
	f.Error = fmt.Sprintf("contended: the %d lowest elements seen were taken by others", min(tries, len(names)))
	return f, names[min(tries, len(names)):]
}

// failed is the definite failure of a dequeue that removed nothing.
func failed(op history.Op, err error) history.Op {
	f := workloads.Complete(op, history.Fail)
	f.Error = err.Error()
	return f
}

// list returns the children of Root, lowest sequence number first, and
// Root's Stat.
func list(conn *zk.Conn, sync bool) ([]string, *zk.Stat, error) {
	if sync {
		if _, err := conn.Sync(Root); err != nil {
			return nil, nil, fmt.Errorf("sync: %w", err)
		}
	}
	names, stat, err := conn.Children(Root)
	if err != nil {
		return nil, nil, fmt.Errorf("children: %w", err)
	}
	slices.SortFunc(names, compareNames)
	return names, stat, nil
}

// compareNames orders children by their sequence number (the last ten
// characters), then by name, as the recipe does.
func compareNames(a, b string) int {
	sa, oka := sequence(a)
	sb, okb := sequence(b)
	switch {
	case oka && okb && sa != sb:
		if sa < sb {
			return -1
		}
		return 1
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func sequence(name string) (int64, bool) {
	if len(name) < 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	return n, err == nil
}

// FinalReads reads the whole queue from every node, one after another
// (sync, children, data of each), then drains what remains through the first
// node that answers, recording each take as a dequeue, until a synced listing
// is empty.
func (w *Workload) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	env.OpTimeout = max(env.OpTimeout, finalOpTimeout)
	procs := workloads.NewProcesses(firstProcess)
	read := workloads.FinalRead{
		What:   "the queue",
		Op:     history.Op{Type: history.Invoke, F: history.Read, Path: Root},
		Read:   readQueue,
		Budget: nodeReadBudget,
	}
	readErr := read.EachNode(ctx, env, rec, procs)
	var drainErr error
	for _, node := range env.Nodes {
		c := workloads.NewClient(env, node, rec, procs.Next(), procs)
		drainErr = w.drain(ctx, c)
		c.Close()
		if drainErr == nil {
			break
		}
		drainErr = fmt.Errorf("drain through %s: %w", node.Name, drainErr)
	}
	return errors.Join(readErr, drainErr)
}

// readQueue syncs the connected server with the leader and reads the
// elements it holds, in queue order.
func readQueue(conn *zk.Conn, op history.Op) history.Op {
	names, stat, err := list(conn, true)
	if err != nil {
		return workloads.Outcome(op, err)
	}
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = Root + "/" + name
	}
	data, err := workloads.GetAll(conn, paths)
	if err != nil {
		return workloads.Outcome(op, err)
	}
	values := make([]int64, len(data))
	for i, d := range data {
		values[i] = workloads.ParseElement(string(d))
	}
	c := workloads.Complete(op, history.OK)
	c.Values = values
	c.Zxid = stat.Pzxid
	return c
}

// drain dequeues through c until a synced listing is empty. It lists once
// and takes the names in order, listing again when they run out: a listing
// that holds a name holds every older one or its delete, so taking them in
// order is still the recipe.
func (w *Workload) drain(ctx context.Context, c *workloads.Client) error {
	var names []string
	failures := 0
	for failures < drainFailures {
		if ctx.Err() != nil {
			return fmt.Errorf("queue not drained: %w", ctx.Err())
		}
		if err := c.AwaitSession(ctx); err != nil {
			return err
		}
		op := history.Op{Type: history.Invoke, F: queuecheck.Dequeue, Path: Root}
		cached := names
		var rest []string
		done, err := c.Call(op, func(conn *zk.Conn) history.Op {
			d, r := dequeue(conn, op, cached, cached == nil, w.cfg.MaxTries)
			rest = r
			return d
		})
		if err != nil {
			return err
		}
		switch {
		case done.Type == history.OK:
			failures = 0
		case done.Type == history.Fail && done.Error == queuecheck.Empty && cached == nil:
			return nil // a fresh, synced listing was empty
		default:
			failures++
		}
		names = nil
		if done.Error != workloads.ErrTimeout.Error() && len(rest) > 0 {
			// The call returned: rest was written before its completion.
			names = rest
		}
		if done.Type == history.Info {
			names = nil
		}
	}
	return fmt.Errorf("gave up after %d failed dequeues in a row", drainFailures)
}
