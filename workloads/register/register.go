// Package register is the compare-and-set register workload: K znodes that
// hold integers, and W worker processes that read, write and compare-and-set
// them, each with its own ZooKeeper session pinned to one node. Every operation
// is recorded as an invocation and a completion (ok, fail or info).
package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
)

// Root is the znode under which the registers live.
const Root = "/zkchaos-register"

// Recorder takes history records; *history.Writer is one.
type Recorder interface {
	Append(op history.Op) (history.Op, error)
}

// Config is what the workload needs to run.
type Config struct {
	// Nodes are the servers; worker i is pinned to Nodes[i % len(Nodes)].
	Nodes []cluster.Node
	// Keys is the number of registers.
	Keys int
	// Workers is the number of concurrent worker processes.
	Workers int
	// Rate is total operations per second; 0 means unlimited.
	Rate float64
	// ReadMode is "plain", "sync" or "quorum".
	ReadMode string
	// OpTimeout bounds each operation; a timed-out operation is info.
	OpTimeout time.Duration
	// SessionTimeout is the ZooKeeper session timeout.
	SessionTimeout time.Duration
	// ReadWeight, WriteWeight and CASWeight give the operation mix.
	ReadWeight, WriteWeight, CASWeight float64
	// Seed makes each worker's choices reproducible.
	Seed int64
	// Dialer, when set, gives the dialer for clients pinned to a node, so
	// that client partitions apply to them.
	Dialer func(node cluster.Node) zk.Dialer
	// Logger receives the workload's own messages.
	Logger *slog.Logger
}

// open starts a session pinned to node; it returns before the session is
// established.
func (c Config) open(node cluster.Node) (*zk.Conn, <-chan zk.Event, error) {
	dialer := zk.Dialer(net.DialTimeout)
	if c.Dialer != nil {
		dialer = c.Dialer(node)
	}
	return zk.Connect([]string{node.ClientAddr}, c.SessionTimeout, zk.WithLogger(quiet{}), zk.WithDialer(dialer))
}

// KeyName returns the name of register i as it appears in the history.
func KeyName(i int) string { return "k" + strconv.Itoa(i) }

// Path returns the znode path of a register.
func Path(key string) string { return Root + "/" + key }

// Checker returns the checkers that judge a register history: linearizability
// per key and the evidence that reads and writes succeeded at all.
func Checker(readMode string, budget time.Duration) checker.Checker {
	return checker.Compose("register",
		checker.Linearizable{Budget: budget, ReadMode: readMode, VisualizeAllBelow: 2000},
		checker.Stats{Need: []string{history.Read, history.Write}},
	)
}

// Setup creates the root and every register with value 0 (version 0), through
// the first node, retrying until ctx ends.
func Setup(ctx context.Context, cfg Config) error {
	conn, err := connect(ctx, cfg, cfg.Nodes[0])
	if err != nil {
		return fmt.Errorf("register setup: %w", err)
	}
	defer conn.Close()
	paths := []string{Root}
	for i := 0; i < cfg.Keys; i++ {
		paths = append(paths, Path(KeyName(i)))
	}
	for _, p := range paths {
		for {
			_, err := conn.Create(p, []byte("0"), 0, zk.WorldACL(zk.PermAll))
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("register setup: create %s on %s: %w", p, cfg.Nodes[0].Name, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Run starts the workers and returns when stop is done and every operation in
// flight has completed (each is bounded by OpTimeout).
func Run(stop context.Context, cfg Config, rec Recorder) error {
	w := &workload{cfg: cfg, rec: rec, values: make([]atomic.Int64, cfg.Keys)}
	w.nextProcess.Store(int64(cfg.Workers))
	var wg sync.WaitGroup
	errs := make([]error, cfg.Workers)
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.worker(stop, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// FinalReads opens a fresh session on every node and reads every register
// through the quorum, so the checker sees what each replica ended with.
// Processes are numbered from firstProcess.
func FinalReads(ctx context.Context, cfg Config, rec Recorder, firstProcess int) error {
	process := history.Process(firstProcess)
	for _, node := range cfg.Nodes {
		conn, err := connect(ctx, cfg, node)
		if err != nil {
			return fmt.Errorf("final reads on %s: %w", node.Name, err)
		}
		s := &session{conn: conn, node: node, cfg: cfg}
		for k := 0; k < cfg.Keys; k++ {
			op := history.Op{Type: history.Invoke, F: history.Read, Process: process, Key: KeyName(k)}
			done, err := s.call(op, rec, func() history.Op { return s.quorumRead(op) })
			if err != nil {
				conn.Close()
				return err
			}
			if done.Type == history.Info {
				process++
			}
		}
		conn.Close()
		process++
	}
	return nil
}

type workload struct {
	cfg         Config
	rec         Recorder
	values      []atomic.Int64 // last value handed out per key: written values are unique per key
	nextProcess atomic.Int64
}

// worker issues operations until stop is done.
func (w *workload) worker(stop context.Context, i int) error {
	cfg := w.cfg
	node := cfg.Nodes[i%len(cfg.Nodes)]
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)))
	process := history.Process(i)
	versions := map[int]int32{} // version last read per key, for cas
	var s *session
	defer func() {
		if s != nil {
			s.conn.Close()
		}
	}()

	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.Workers) / cfg.Rate * float64(time.Second))
	}
	next := time.Now().Add(time.Duration(rng.Int64N(int64(interval) + 1)))
	var lastSession int64
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
		if s == nil {
			conn, _, err := cfg.open(node)
			if err != nil {
				return fmt.Errorf("worker %d: connect to %s: %w", i, node.Name, err)
			}
			s = &session{conn: conn, node: node, cfg: cfg}
		}
		// Only issue an operation on a live session: an operation queued on a
		// dead connection can only fail, and would just add noise.
		if !s.waitConnected(stop, 100*time.Millisecond) {
			continue
		}
		if id := s.conn.SessionID(); id != lastSession {
			if lastSession != 0 {
				process = w.newProcess() // a new session is a new process
			}
			lastSession = id
		}

		k := rng.IntN(cfg.Keys)
		op := history.Op{Type: history.Invoke, Process: process, Key: KeyName(k)}
		var do func() history.Op
		switch f := w.pick(rng); {
		case f == history.CAS && hasKey(versions, k):
			op.F = history.CAS
			op.Value = history.Int64(w.values[k].Add(1))
			op.Expect = history.Int32(versions[k])
			do = func() history.Op { return s.set(op, *op.Expect) }
		case f == history.Write:
			op.F = history.Write
			op.Value = history.Int64(w.values[k].Add(1))
			do = func() history.Op { return s.set(op, -1) }
		default: // reads, and cas before anything was read
			op.F = history.Read
			do = func() history.Op { return s.read(op) }
		}
		done, err := s.call(op, w.rec, do)
		if err != nil {
			return err
		}
		switch {
		case done.Type == history.OK && done.Version != nil:
			versions[k] = *done.Version
		case done.Type == history.Info:
			// The operation may still be in flight: the process is retired.
			process = w.newProcess()
			if done.Error == errTimeout.Error() {
				s.conn.Close() // abandon the wedged session; in-flight calls end
				s = nil
				lastSession = 0
			}
		}
	}
}

func (w *workload) newProcess() history.Process {
	return history.Process(w.nextProcess.Add(1) - 1)
}

func (w *workload) pick(rng *rand.Rand) string {
	c := w.cfg
	x := rng.Float64() * (c.ReadWeight + c.WriteWeight + c.CASWeight)
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

// quiet silences the client library's logger: connection churn under faults
// is expected and recorded in the history instead.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// connect opens a session to node and waits, bounded by ctx, until it is
// established.
func connect(ctx context.Context, cfg Config, node cluster.Node) (*zk.Conn, error) {
	conn, events, err := cfg.open(node)
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
