// Package workloads holds what every workload shares: the environment the
// harness gives it, the Workload interface, and the client plumbing that
// records each operation as an invocation and a completion (ok, fail or
// info) on a session pinned to one node. Each workload lives in a
// sub-package and names the checkers that judge its history.
package workloads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/guard"
)

// Recorder takes history records; *history.Writer is one.
type Recorder interface {
	Append(op history.Op) (history.Op, error)
}

// Env is what the harness gives a workload.
type Env struct {
	// Nodes are the servers; worker i is pinned to Nodes[i % len(Nodes)].
	Nodes []cluster.Node
	// Dialer, when set, gives the dialer for clients pinned to a node, so
	// that client partitions apply to them.
	Dialer func(node cluster.Node) zk.Dialer
	// Workers is the number of concurrent worker processes.
	Workers int
	// Rate is total operations per second over all workers; 0 means
	// unlimited.
	Rate float64
	// OpTimeout bounds each operation; a timed-out operation is info.
	OpTimeout time.Duration
	// SessionTimeout is the ZooKeeper session timeout.
	SessionTimeout time.Duration
	// Seed makes each worker's choices reproducible.
	Seed int64
	// Logger receives the workload's own messages.
	Logger *slog.Logger
}

// Workload is one kind of load with the checkers that judge it.
type Workload interface {
	// Setup creates what the workload needs before it starts (znodes).
	Setup(ctx context.Context, env Env) error
	// Run issues operations until stop is done and every operation in
	// flight has completed.
	Run(stop context.Context, env Env, rec Recorder) error
	// FinalReads reads the final state from every node after the faults
	// are healed; processes are numbered from firstProcess.
	FinalReads(ctx context.Context, env Env, rec Recorder, firstProcess int) error
	// Checker judges the workload's history within budget.
	Checker(budget time.Duration) checker.Checker
}

// Node is the node worker i is pinned to: the workers take the nodes in
// turn.
func (e Env) Node(i int) cluster.Node { return e.Nodes[i%len(e.Nodes)] }

// Open starts a session pinned to node; it returns before the session is
// established.
func (e Env) Open(node cluster.Node) (*zk.Conn, <-chan zk.Event, error) {
	dialer := zk.Dialer(net.DialTimeout)
	if e.Dialer != nil {
		dialer = e.Dialer(node)
	}
	return zk.Connect([]string{node.ClientAddr}, e.SessionTimeout, zk.WithLogger(quiet{}), zk.WithDialer(dialer))
}

// Connect opens a session to node and waits, bounded by ctx, until it is
// established.
func (e Env) Connect(ctx context.Context, node cluster.Node) (*zk.Conn, error) {
	conn, events, err := e.Open(node)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", node.Name, err)
	}
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, nil
			}
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("connect to %s (%s): %w", node.Name, node.ClientAddr, ctx.Err())
		}
	}
}

// quiet silences the client library's logger: connection churn under faults
// is expected and recorded in the history instead.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// Processes hands out fresh process numbers after the first Workers.
type Processes struct{ next atomic.Int64 }

// NewProcesses starts numbering fresh processes at first.
func NewProcesses(first int) *Processes {
	p := &Processes{}
	p.next.Store(int64(first))
	return p
}

// Next returns a process number never used before.
func (p *Processes) Next() history.Process { return history.Process(p.next.Add(1) - 1) }

// Worker is one worker's state, handed to its step function.
type Worker struct {
	// Index is the worker's number, 0 to Workers-1.
	Index int
	// Rand is the worker's own seeded generator.
	Rand *rand.Rand
	// Client is the worker's session and recorder.
	Client *Client
}

// RunWorkers runs env.Workers workers, each calling step at its share of the
// rate on a live session, until stop is done. A step returns an error only
// when the run cannot go on (the history cannot be written).
func RunWorkers(stop context.Context, env Env, rec Recorder, step func(w *Worker) error) error {
	return Spawn(stop, env, func(i int, rng *rand.Rand, procs *Processes) error {
		w := &Worker{Index: i, Rand: rng, Client: NewClient(env, env.Node(i), rec, history.Process(i), procs)}
		defer w.Client.Close()
		return pace(stop, env, w, step)
	})
}

// Spawn runs work for each of env.Workers workers at once, each in a
// goroutine that stop's guard watches, and returns once all have returned,
// their errors joined. Worker i draws from its own generator, seeded from
// env.Seed and i, records as process i, and takes fresh processes from
// procs, which all the workers share.
func Spawn(stop context.Context, env Env, work func(i int, rng *rand.Rand, procs *Processes) error) error {
	procs := NewProcesses(env.Workers)
	var wg sync.WaitGroup
	errs := make([]error, env.Workers)
	g := guard.From(stop)
	for i := 0; i < env.Workers; i++ {
		wg.Go(g.Func(fmt.Sprintf("worker %d", i), func() {
			errs[i] = work(i, rand.New(rand.NewPCG(uint64(env.Seed), uint64(i))), procs)
		}))
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pace runs step on a live session at the worker's share of the rate.
func pace(stop context.Context, env Env, w *Worker, step func(w *Worker) error) error {
	return Pace(stop, env, w.Rand, func() error {
		ready, err := w.Client.Ready(stop)
		if err != nil {
			return fmt.Errorf("worker %d: %w", w.Index, err)
		}
		if !ready {
			return nil // skip a turn rather than queue an op that can only fail
		}
		if err := step(w); err != nil {
			return fmt.Errorf("worker %d: %w", w.Index, err)
		}
		return nil
	})
}

// Pace calls step every Workers/Rate (as fast as it returns when Rate is 0),
// starting at a random offset drawn from rng, never in bursts to catch up,
// until stop is done or step fails.
func Pace(stop context.Context, env Env, rng *rand.Rand, step func() error) error {
	interval := interval(env)
	next := time.Now().Add(time.Duration(rng.Int64N(int64(interval) + 1)))
	for {
		if interval > 0 {
			if !sleepUntil(stop, next) {
				return nil
			}
			next = next.Add(interval)
			if now := time.Now(); next.Before(now) {
				next = now
			}
		} else if stop.Err() != nil {
			return nil
		}
		if err := step(); err != nil {
			return err
		}
	}
}

// maxInterval bounds a worker's wait between two operations: longer than
// any run, and far from overflowing a Duration or a time.Time.
const maxInterval = 365 * 24 * time.Hour

// interval is the time between two operations of one worker: Workers/Rate,
// at most maxInterval, and 0 (unpaced) unless Rate is a positive number.
func interval(env Env) time.Duration {
	if !(env.Rate > 0) {
		return 0 // 0, negative or NaN: validated at load, unpaced here
	}
	secs := float64(env.Workers) / env.Rate
	if secs >= maxInterval.Seconds() {
		return maxInterval
	}
	return time.Duration(secs * float64(time.Second))
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
