// Package session is the sessions-and-ephemerals workload: every worker's
// session owns an ephemeral node, and the workers keep checking, through the
// quorum, whether their own node and the nodes of other sessions exist. Under
// faults that cut clients off long enough (a paused server, isolated
// clients), sessions expire: their nodes must vanish then, and only then.
//
// The package also records session events for other workloads: RunWorkers
// is workloads.RunWorkers with an Observer per worker.
package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	sessioncheck "github.com/zkchaos/zkchaos/checker/session"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// Root is the znode under which the ephemeral nodes live.
const Root = "/zkchaos-session"

// recentPerWorker is how many of the most recently created nodes per worker
// the workers pick from when checking other sessions' nodes: the live ones
// and the recently orphaned, rather than long-gone ones.
const recentPerWorker = 3

// Config is what is particular to the sessions workload.
type Config struct {
	// SessionTimeout is the clients' session timeout, for the checker. The
	// workload also records it in the history, so it may be left zero.
	SessionTimeout time.Duration
	// Margin is the checker's margin beyond the session timeout (default
	// sessioncheck.DefaultMargin); see sessioncheck.Checker.
	Margin time.Duration
}

// Workload is the sessions workload; New makes one.
type Workload struct {
	cfg Config

	mu      sync.Mutex
	nodes   []string      // every node a worker tried to create, in order
	ended   time.Time     // when Run returned: every worker session closed
	timeout time.Duration // the session timeout Run's clients asked for
}

var _ workloads.Workload = (*Workload)(nil)

// New returns a sessions workload.
func New(cfg Config) *Workload {
	return &Workload{cfg: cfg}
}

// NodePath is the path of the n-th ephemeral node created by a worker while
// it was process p.
func NodePath(p history.Process, n int) string {
	return Root + "/" + p.String() + "-" + strconv.Itoa(n)
}

// Checker returns the checkers that judge a sessions history: the life of
// every ephemeral node against its session, and the evidence that creates
// and checks succeeded at all.
func (w *Workload) Checker(time.Duration) checker.Checker {
	return checker.Compose("session",
		sessioncheck.Checker{SessionTimeout: w.cfg.SessionTimeout, Margin: w.cfg.Margin},
		stats.Checker{Need: []string{sessioncheck.Create, sessioncheck.Exists}},
	)
}

// Setup creates the root and removes nodes a previous run on the same
// ensemble left, through the first node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	if len(env.Nodes) == 0 {
		return errors.New("session setup: no nodes")
	}
	conn, err := env.Connect(ctx, env.Nodes[0])
	if err != nil {
		return fmt.Errorf("session setup: %w", err)
	}
	defer conn.Close()
	return retry(ctx, func() error {
		if _, err := conn.Create(Root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("session setup: create %s on %s: %w", Root, env.Nodes[0].Name, err)
		}
		children, _, err := conn.Children(Root)
		if err != nil {
			return fmt.Errorf("session setup: list %s on %s: %w", Root, env.Nodes[0].Name, err)
		}
		for _, c := range children {
			if err := conn.Delete(Root+"/"+c, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("session setup: remove stale %s/%s on %s: %w", Root, c, env.Nodes[0].Name, err)
			}
		}
		return nil
	})
}

// retry calls f until it succeeds or ctx ends.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// owned is a worker's own node and the session it was created for.
type owned struct {
	path    string
	session int64
}

// Run starts the workers. A worker whose session has no node yet creates
// one; otherwise it checks, with equal odds, its own node or a recent node
// of another worker. It returns when stop is done, every operation in flight
// has completed and every session is closed.
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	own := make([]owned, env.Workers)
	created := make([]int, env.Workers)
	err := RunWorkers(stop, env, rec, func(wk *Worker) error {
		c := wk.Client
		mine := &own[wk.Index]
		if sid := c.Conn().SessionID(); mine.path == "" || mine.session != sid {
			path := NodePath(c.Process, created[wk.Index])
			created[wk.Index]++
			w.remember(path)
			op := history.Op{Type: history.Invoke, F: sessioncheck.Create, Path: path}
			done, err := c.Call(op, func(conn *zk.Conn) history.Op { return create(conn, op) })
			if err == nil && done.Type == history.OK {
				*mine = owned{path: path, session: sid}
			}
			return err
		}
		target := mine.path
		if wk.Rand.IntN(2) == 0 {
			if other := w.pick(wk, mine.path, recentPerWorker*env.Workers); other != "" {
				target = other
			}
		}
		op := history.Op{Type: history.Invoke, F: sessioncheck.Exists, Path: target}
		_, err := c.Call(op, func(conn *zk.Conn) history.Op { return exists(conn, op) })
		return err
	})
	w.mu.Lock()
	w.ended, w.timeout = time.Now(), env.SessionTimeout
	w.mu.Unlock()
	return err
}

func (w *Workload) remember(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nodes = append(w.nodes, path)
}

// pick returns one of the last recent nodes other than own, or "".
func (w *Workload) pick(wk *Worker, own string, recent int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := max(len(w.nodes)-recent, 0)
	if len(w.nodes)-from < 2 {
		return ""
	}
	for range 4 {
		if p := w.nodes[from+wk.Rand.IntN(len(w.nodes)-from)]; p != own {
			return p
		}
	}
	return ""
}

// FinalReads waits until every session of the run must have ended on the
// servers (the session timeout and the checker's margin after the last was
// closed), then, from a fresh session on every node, checks every node the
// workers created or tried to, and any other node still listed: by then each
// must be gone.
func (w *Workload) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	w.mu.Lock()
	ended, timeout := w.ended, w.timeout
	w.mu.Unlock()
	if timeout == 0 {
		timeout = env.SessionTimeout
	}
	margin := w.cfg.Margin
	if margin <= 0 {
		margin = sessioncheck.DefaultMargin
	}
	if !ended.IsZero() {
		t := time.NewTimer(time.Until(ended.Add(timeout + margin + time.Second)))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("session final reads: waiting for the sessions to end: %w", ctx.Err())
		case <-t.C:
		}
	}
	procs := workloads.NewProcesses(firstProcess)
	var errs []error
	for _, node := range env.Nodes {
		if err := w.finalReads(ctx, env, rec, procs, node); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *Workload) finalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, procs *workloads.Processes, node cluster.Node) error {
	c := workloads.NewClient(env, node, rec, procs.Next(), procs)
	defer c.Close()
	var children []string
	err := retry(ctx, func() error {
		ready, err := c.Ready(ctx)
		if err != nil || !ready {
			return errors.Join(err, fmt.Errorf("no session on %s yet", node.Name))
		}
		children, _, err = c.Conn().Children(Root)
		return err
	})
	if err != nil {
		return fmt.Errorf("session final reads on %s: list %s: %w", node.Name, Root, err)
	}
	w.mu.Lock()
	paths := append([]string(nil), w.nodes...)
	w.mu.Unlock()
	known := map[string]bool{}
	for _, p := range paths {
		known[p] = true
	}
	for _, child := range children {
		if p := Root + "/" + child; !known[p] {
			paths = append(paths, p)
		}
	}
	for _, path := range paths {
		if err := c.AwaitSession(ctx); err != nil {
			return fmt.Errorf("session final reads on %s: session lost: %w", node.Name, err)
		}
		op := history.Op{Type: history.Invoke, F: sessioncheck.Exists, Path: path}
		if _, err := c.Call(op, func(conn *zk.Conn) history.Op { return exists(conn, op) }); err != nil {
			return err
		}
	}
	return nil
}

// create creates the worker's ephemeral node.
func create(conn *zk.Conn, op history.Op) history.Op {
	if _, err := conn.Create(op.Path, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		return workloads.Outcome(op, err)
	}
	return workloads.Complete(op, history.OK)
}

// exists reads the node from the connected server, which gives its
// ephemeral owner, then asks the quorum: a check-only multi is a transaction
// the leader orders with every write, so its answer (the node exists, or
// ErrNoNode) is a linearizable fact, where the plain read may be stale.
// Value is 1 when the node exists, 0 when not; Values[0] is the owner the
// read saw, when the node exists.
func exists(conn *zk.Conn, op history.Op) history.Op {
	found, stat, err := conn.Exists(op.Path)
	if err != nil {
		return workloads.Outcome(op, err)
	}
	res, err := conn.Multi(&zk.CheckVersionRequest{Path: op.Path, Version: -1})
	if err == nil {
		for _, r := range res {
			if r.Error != nil {
				err = r.Error
				break
			}
		}
	}
	c := workloads.Complete(op, history.OK)
	switch {
	case err == nil:
		c.Value = history.Int64(1)
		if found && stat != nil && stat.EphemeralOwner != 0 {
			c.Values = []int64{stat.EphemeralOwner}
			c.Zxid = stat.Czxid
		}
	case errors.Is(err, zk.ErrNoNode):
		c.Value = history.Int64(0)
	default:
		return workloads.Outcome(op, err)
	}
	return c
}
