// Package watch is the watch workload: K znodes holding integers; writer
// processes set them to unique increasing values, and watcher processes hold
// a one-shot data watch on every key, record each event the client library
// delivers, re-arm at once, and meanwhile read the watched keys to catch a
// change seen before its event.
//
// A watcher session is used over one connection only. When the connection
// drops, go-zookeeper reconnects and restores the watches in the background,
// racing the requests the worker sends next; so the worker records that the
// connection ended (watchcheck.FSession), closes the session and starts a
// fresh one. The checker counts nothing after that record as evidence.
package watch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/stats"
	watchcheck "github.com/zkchaos/zkchaos/checker/watch"
	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/workloads"
)

// Root is the znode under which the keys live.
const Root = "/zkchaos-watch"

// Config is what is particular to the watch workload.
type Config struct {
	// Keys is the number of znodes watched and written.
	Keys int
}

// Workload is the watch workload; New makes one.
type Workload struct {
	cfg  Config
	next atomic.Int64 // last value handed out: values are unique in the run
}

// New returns a watch workload.
func New(cfg Config) *Workload { return &Workload{cfg: cfg} }

// KeyName returns the name of key i as it appears in the history.
func KeyName(i int) string { return workloads.KeyName(i) }

// Path returns the znode path of a key.
func Path(key string) string { return Root + "/" + key }

// IsWatcher reports whether worker i watches (odd workers) or writes (even
// workers); with the workers pinned to nodes round-robin, both roles reach
// every node once there are twice as many workers as nodes.
func IsWatcher(i int) bool { return i%2 == 1 }

// Checker returns the watch checker and the evidence that every kind of
// operation succeeded at all.
func (w *Workload) Checker(time.Duration) checker.Checker {
	return checker.Compose("watch",
		watchcheck.Checker{},
		stats.Checker{Need: []string{history.Write, watchcheck.F, history.Read, watchcheck.FEvent}},
	)
}

func (w *Workload) validate(env workloads.Env) error {
	switch {
	case w.cfg.Keys < 1:
		return fmt.Errorf("watch workload: keys must be at least 1, got %d", w.cfg.Keys)
	case env.Workers < 2:
		return fmt.Errorf("watch workload: needs at least 2 workers (writers and watchers), got %d", env.Workers)
	case len(env.Nodes) == 0:
		return errors.New("watch workload: no nodes")
	}
	return nil
}

// Setup creates the root and every key with value 0 (version 0), through
// the first node, retrying until ctx ends.
func (w *Workload) Setup(ctx context.Context, env workloads.Env) error {
	if err := w.validate(env); err != nil {
		return err
	}
	return workloads.SetupKeys(ctx, env, "watch", Root, w.cfg.Keys)
}

// Run starts writers and watchers and returns when stop is done, every
// operation in flight has completed, and every watcher has read its armed
// keys one last time.
func (w *Workload) Run(stop context.Context, env workloads.Env, rec workloads.Recorder) error {
	if err := w.validate(env); err != nil {
		return err
	}
	return workloads.Spawn(stop, env, func(i int, rng *rand.Rand, procs *workloads.Processes) error {
		var err error
		if IsWatcher(i) {
			err = w.watch(stop, env, rec, procs, history.Process(i), env.Node(i), rng)
		} else {
			err = w.write(stop, env, rec, procs, history.Process(i), env.Node(i), rng)
		}
		if err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
		return nil
	})
}

// write sets random keys to fresh values, blindly, at its share of the rate.
func (w *Workload) write(stop context.Context, env workloads.Env, rec workloads.Recorder, procs *workloads.Processes,
	p history.Process, node cluster.Node, rng *rand.Rand) error {
	c := workloads.NewClient(env, node, rec, p, procs)
	defer c.Close()
	return workloads.Pace(stop, env, rng, func() error {
		ready, err := c.Ready(stop)
		if err != nil || !ready {
			return err
		}
		op := history.Op{Type: history.Invoke, F: history.Write, Key: KeyName(rng.IntN(w.cfg.Keys)), Value: history.Int64(w.next.Add(1))}
		_, err = c.Call(op, func(conn *zk.Conn) history.Op {
			stat, err := conn.Set(Path(op.Key), []byte(strconv.FormatInt(*op.Value, 10)), -1)
			if err != nil {
				return workloads.Outcome(op, err)
			}
			done := workloads.Complete(op, history.OK)
			done.Version, done.Zxid = history.Int32(stat.Version), stat.Mzxid
			return done
		})
		return err
	})
}

// watcher is one watcher worker's state.
type watcher struct {
	w     *Workload
	rec   workloads.Recorder
	c     *workloads.Client
	rng   *rand.Rand
	dials atomic.Pointer[atomic.Int64] // dial attempts of the current connection

	// The session the registrations belong to, and its dial count when it
	// was established: another dial means the connection was replaced.
	conn    *zk.Conn
	session int64
	base    int64
	regs    map[int]<-chan zk.Event // armed keys
}

// watch runs one watcher until stop is done, then reads its armed keys one
// last time.
func (w *Workload) watch(stop context.Context, env workloads.Env, rec workloads.Recorder, procs *workloads.Processes,
	p history.Process, node cluster.Node, rng *rand.Rand) error {
	wt := &watcher{w: w, rec: rec, rng: rng}
	// Count the dials of each connection the client opens: Env.Open asks
	// for the dialer once per connection, before it dials.
	counted := env
	dialer := env.Dialer
	counted.Dialer = func(n cluster.Node) zk.Dialer {
		d := zk.Dialer(net.DialTimeout)
		if dialer != nil {
			d = dialer(n)
		}
		dials := new(atomic.Int64)
		wt.dials.Store(dials)
		return func(network, addr string, timeout time.Duration) (net.Conn, error) {
			dials.Add(1)
			return d(network, addr, timeout)
		}
	}
	wt.c = workloads.NewClient(counted, node, rec, p, procs)
	defer wt.c.Close()
	err := workloads.Pace(stop, env, rng, func() error { return wt.step(stop) })
	if err != nil {
		return err
	}
	return wt.finish()
}

// step drains delivered events (re-arming their keys), then arms an unarmed
// key or reads an armed one.
func (wt *watcher) step(stop context.Context) error {
	ready, err := wt.c.Ready(stop)
	if err != nil || !ready {
		return err
	}
	if wt.c.Conn() != wt.conn {
		if wt.conn != nil {
			// Replaced without this worker noticing: end the old session's
			// evidence before the new session starts.
			if err := wt.record(watchcheck.FSession, "", zk.Event{Err: errors.New("closed")}); err != nil {
				return err
			}
		}
		wt.conn, wt.session = wt.c.Conn(), wt.c.Conn().SessionID()
		wt.base = wt.dials.Load().Load()
		wt.regs = map[int]<-chan zk.Event{}
	}
	if err := wt.drain(); err != nil || wt.conn == nil {
		return err
	}
	k := wt.rng.IntN(wt.w.cfg.Keys)
	if _, armed := wt.regs[k]; armed {
		return wt.read(k)
	}
	return wt.arm(k)
}

// finish reads every armed key once more on a connection that stayed up:
// a change made before the end must have been announced by then.
func (wt *watcher) finish() error {
	if wt.conn == nil || wt.c.Conn() != wt.conn {
		return nil
	}
	if err := wt.drain(); err != nil {
		return err
	}
	for _, k := range wt.armed() {
		if wt.conn == nil {
			return nil
		}
		if _, armed := wt.regs[k]; !armed {
			continue
		}
		if err := wt.read(k); err != nil {
			return err
		}
	}
	return nil
}

func (wt *watcher) armed() []int {
	keys := make([]int, 0, len(wt.regs))
	for k := range wt.regs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lost says why the session's single connection is over, or "".
func (wt *watcher) lost() string {
	switch {
	case wt.c.Conn() != wt.conn:
		return "closed"
	case wt.dials.Load().Load() != wt.base:
		return "reconnected"
	case wt.conn.SessionID() != wt.session:
		return "expired"
	}
	return ""
}

type delivered struct {
	key int
	ev  zk.Event
}

// drain records every event delivered so far and re-arms the keys whose
// watch fired. The events are taken before the connection is checked, so
// events recorded before an FSession record came on the session's
// connection.
func (wt *watcher) drain() error {
	var got []delivered
	for _, k := range wt.armed() {
		select {
		case ev, ok := <-wt.regs[k]:
			if !ok {
				ev = zk.Event{Type: zk.EventNotWatching, Err: errors.New("watch channel closed")}
			}
			got = append(got, delivered{k, ev})
			delete(wt.regs, k)
		default:
		}
	}
	if reason := wt.lost(); reason != "" {
		return wt.abandon(reason, got)
	}
	var rearm []int
	dropped := false
	for _, d := range got {
		if err := wt.record(watchcheck.FEvent, KeyName(d.key), d.ev); err != nil {
			return err
		}
		if d.ev.Type == zk.EventNotWatching {
			dropped = true
		} else {
			rearm = append(rearm, d.key)
		}
	}
	if dropped {
		// The library dropped watches: the session is of no further use.
		return wt.abandon("watches dropped", nil)
	}
	for _, k := range rearm {
		if wt.conn == nil {
			break
		}
		if err := wt.arm(k); err != nil {
			return err
		}
	}
	return nil
}

// record writes a delivered event (or the end of the connection) as an
// invocation and an ok completion of the session's current process.
func (wt *watcher) record(f, key string, ev zk.Event) error {
	op := history.Op{Type: history.Invoke, F: f, Key: key, Process: wt.c.Process, Node: wt.c.Node().Name, Session: wt.session}
	if _, err := wt.rec.Append(op); err != nil {
		return fmt.Errorf("record %s: %w", f, err)
	}
	done := workloads.Complete(op, history.OK)
	done.Event = ev.Type.String()
	if f == watchcheck.FSession {
		done.Event = ev.Err.Error()
	} else if ev.Err != nil {
		done.Error = ev.Err.Error()
	}
	if _, err := wt.rec.Append(done); err != nil {
		return fmt.Errorf("record %s: %w", f, err)
	}
	return nil
}

// abandon records that the session's connection is over, then the events
// still to record (no longer evidence), and closes the session: the next
// step opens a fresh one.
func (wt *watcher) abandon(reason string, got []delivered) error {
	if err := wt.record(watchcheck.FSession, "", zk.Event{Err: errors.New(reason)}); err != nil {
		return err
	}
	for _, k := range wt.armed() {
		select {
		case ev, ok := <-wt.regs[k]:
			if ok {
				got = append(got, delivered{k, ev})
			}
		default:
		}
	}
	for _, d := range got {
		if err := wt.record(watchcheck.FEvent, KeyName(d.key), d.ev); err != nil {
			return err
		}
	}
	wt.regs = nil
	wt.conn = nil
	wt.c.Close()
	return nil
}

// arm reads key k and sets a data watch on it.
func (wt *watcher) arm(k int) error {
	op := history.Op{Type: history.Invoke, F: watchcheck.F, Key: KeyName(k)}
	watch := make(chan (<-chan zk.Event), 1)
	done, err := wt.c.Call(op, func(conn *zk.Conn) history.Op {
		data, stat, ch, err := conn.GetW(Path(op.Key))
		if err != nil {
			return workloads.Outcome(op, err)
		}
		watch <- ch
		return readResult(op, data, stat)
	})
	if err != nil {
		return err
	}
	if done.Type == history.OK {
		select {
		case ch := <-watch:
			wt.regs[k] = ch
		default:
		}
	}
	return wt.check()
}

// read reads armed key k without a watch and looks, the moment the reply is
// in, whether the watch event was delivered: go-zookeeper hands an event to
// its channel before it hands over any reply that came after it, so a reply
// with newer data and no event yet means the change was seen first.
func (wt *watcher) read(k int) error {
	op := history.Op{Type: history.Invoke, F: history.Read, Key: KeyName(k)}
	ch := wt.regs[k]
	fired := make(chan zk.Event, 1)
	_, err := wt.c.Call(op, func(conn *zk.Conn) history.Op {
		data, stat, err := conn.Get(Path(op.Key))
		if err != nil {
			return workloads.Outcome(op, err)
		}
		r := readResult(op, data, stat)
		select {
		case ev := <-ch:
			fired <- ev
			r.Event = ev.Type.String()
		default:
		}
		return r
	})
	if err != nil {
		return err
	}
	select {
	case ev := <-fired:
		delete(wt.regs, k)
		if err := wt.check(); err != nil || wt.conn == nil {
			return err
		}
		if ev.Type == zk.EventNotWatching {
			return wt.abandon("watches dropped", nil)
		}
		return wt.arm(k)
	default:
	}
	return wt.check()
}

// check abandons the session if its connection is over.
func (wt *watcher) check() error {
	if reason := wt.lost(); reason != "" {
		return wt.abandon(reason, nil)
	}
	return nil
}

func readResult(op history.Op, data []byte, stat *zk.Stat) history.Op {
	v, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		v = -1 // never written by this workload: the checker reports it
	}
	c := workloads.Complete(op, history.OK)
	c.Value, c.Version, c.Zxid = history.Int64(v), history.Int32(stat.Version), stat.Mzxid
	return c
}

// FinalReads opens a fresh session on every node and reads every key
// through the quorum (a read confirmed by a check-only multi), so the
// checker sees that the values every node ends with were written.
func (w *Workload) FinalReads(ctx context.Context, env workloads.Env, rec workloads.Recorder, firstProcess int) error {
	if err := w.validate(env); err != nil {
		return err
	}
	procs := workloads.NewProcesses(firstProcess)
	var errs []error
	for _, node := range env.Nodes {
		c := workloads.NewClient(env, node, rec, procs.Next(), procs)
		for k := 0; k < w.cfg.Keys; k++ {
			if err := finalRead(ctx, c, KeyName(k)); err != nil {
				errs = append(errs, fmt.Errorf("final reads on %s: %w", node.Name, err))
				break
			}
		}
		c.Close()
	}
	return errors.Join(errs...)
}

// finalRead retries a quorum read of key until one succeeds (a read can
// still meet a reconnecting session) or ctx ends.
func finalRead(ctx context.Context, c *workloads.Client, key string) error {
	for attempt := 0; ; attempt++ {
		ready, err := c.Ready(ctx)
		if err != nil {
			return err
		}
		if ready {
			op := history.Op{Type: history.Invoke, F: history.Read, Key: key}
			done, err := c.Call(op, func(conn *zk.Conn) history.Op {
				data, stat, err := conn.Get(Path(key))
				if err != nil {
					return workloads.Outcome(op, err)
				}
				res, err := conn.Multi(&zk.CheckVersionRequest{Path: Path(key), Version: stat.Version})
				if err == nil && len(res) == 1 {
					err = res[0].Error
				}
				if err != nil {
					return workloads.Outcome(op, err)
				}
				return readResult(op, data, stat)
			})
			if err != nil || done.Type == history.OK {
				return err
			}
		}
		if ctx.Err() != nil || attempt >= 20 {
			return fmt.Errorf("no confirmed read of %s: %w", key, errors.Join(ctx.Err(), errors.New("gave up")))
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
