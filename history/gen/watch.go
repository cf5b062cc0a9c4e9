package gen

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Record names and event types of the watch workload, spelled out as the
// workload writes them.
const (
	fWatch           = "watch"
	fWatchEvent      = "event"
	fWatchSession    = "session"
	evDataChanged    = "EventNodeDataChanged"
	evNotWatching    = "EventNotWatching"
	neverLost        = math.MaxInt64
	watchRequestTrip = 100 * time.Microsecond
)

// WatchAnomaly names a violation Watch can plant.
type WatchAnomaly string

// The anomalies Watch plants, once, after half of the calls.
const (
	// MissedWatch: the server drops one registration without an event.
	MissedWatch WatchAnomaly = "missed-watch"
	// LateEvent: one event reaches the client well after replies the
	// server sent later, so newer data can be read before it.
	LateEvent WatchAnomaly = "late-event"
	// DuplicateEvent: one event is delivered twice.
	DuplicateEvent WatchAnomaly = "duplicate-event"
	// PhantomEvent: a watch fires at once, whether or not its znode
	// changed.
	PhantomEvent WatchAnomaly = "phantom-event"
)

// WatchAnomalies lists the anomalies Watch can plant.
var WatchAnomalies = []WatchAnomaly{MissedWatch, LateEvent, DuplicateEvent, PhantomEvent}

// WatchConfig shapes a generated watch-workload history. Zero fields take
// the defaults noted.
type WatchConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Calls is the number of writes and watcher steps. Default 30.
	Calls int
	// Keys is the number of watched znodes. Default 2.
	Keys int
	// Writers and Watchers are the numbers of workers. Defaults 2 and 2.
	Writers, Watchers int
	// Info and Fail are the shares of writes that end indeterminate or
	// failed; Crash the share of indeterminate writes with no completion.
	// Defaults 0.1, 0.05 and 0.3.
	Info, Fail, Crash float64
	// Loss is the chance that a watcher step loses its connection: a
	// reconnection, or half the time an expired session whose library
	// drops the watches. Default 0.05.
	Loss float64
	// Anomaly is the violation to plant, if any.
	Anomaly WatchAnomaly
}

func (c *WatchConfig) defaults() {
	setDefault(&c.Calls, 30)
	setDefault(&c.Keys, 2)
	setDefault(&c.Writers, 2)
	setDefault(&c.Watchers, 2)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.3)
	setDefault(&c.Loss, 0.05)
}

// wtCommit is a write the ensemble committed, and when each node applied it.
type wtCommit struct {
	key     int
	version int32
	value   int64
	zxid    int64
	applyAt [simulatedNodes]int64
}

// wtReg is a watch the client holds: the version it was set at, and when
// the node registered it.
type wtReg struct {
	version int32
	at      int64
	missed  bool  // the server dropped it (MissedWatch)
	delay   int64 // extra delay of its event (LateEvent)
}

// wtConn is a watcher session's single connection.
type wtConn struct {
	id      int64
	lostAt  int64 // when the connection broke; neverLost if it did not
	expired bool  // the loss expired the session: the library drops watches
	regs    map[int]*wtReg
}

type wtWatcher struct {
	worker
	index int
	conn  *wtConn
}

type watchSim struct {
	cfg       WatchConfig
	rng       *rand.Rand
	ag        agenda
	tp        tape
	pool      clientPool
	commits   []*wtCommit
	version   []int32
	zxid      int64
	lastApply [simulatedNodes]int64
	nextVal   int64
	issued    int
	planted   bool
}

// Watch returns a history of the watch workload: writers setting keys to
// unique values, watchers that hold a data watch on keys, record the
// events they get, re-arm, and read armed keys in between (marking a read
// whose reply came with the event already there), then one quorum read of
// every key per node. Followers apply commits late; a server sends a
// session's events and replies in order. Without an anomaly the history
// keeps every promise of data watches.
func Watch(cfg WatchConfig) []history.Op {
	cfg.defaults()
	s := &watchSim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x7761746368)), version: make([]int32, cfg.Keys)}
	s.zxid = zxidEpoch + int64(cfg.Keys+1)
	for w := range cfg.Writers + cfg.Watchers {
		wk := worker{process: s.pool.process(), node: nodeName(w), session: s.pool.session()}
		start := expNs(s.rng, time.Millisecond)
		if w < cfg.Writers {
			s.ag.schedule(start, func(at int64) { s.write(at, wk) })
			continue
		}
		wt := &wtWatcher{worker: wk, index: w % simulatedNodes}
		s.ag.schedule(start, func(at int64) { s.step(at, wt) })
	}
	s.ag.drain()
	end := s.tp.ops[len(s.tp.ops)-1].Time + int64(time.Second)
	for n := range simulatedNodes {
		wk := worker{process: s.pool.process(), node: nodeName(n), session: s.pool.session()}
		for k := range cfg.Keys {
			inv := history.Op{Type: history.Invoke, F: history.Read, Process: wk.process, Time: end, Key: s.key(k), Node: wk.node, Session: wk.session}
			s.tp.add(inv)
			s.tp.add(s.readResult(inv, n, k, neverLost-1, end+int64(time.Millisecond)))
			end += 2 * int64(time.Millisecond)
		}
	}
	return s.tp.ops
}

func (s *watchSim) key(k int) string { return "k" + strconv.Itoa(k) }

// due reports whether anomaly a is to be planted now, and marks it planted.
func (s *watchSim) due(a WatchAnomaly) bool {
	if s.cfg.Anomaly != a || s.planted || s.issued < s.cfg.Calls/2 {
		return false
	}
	s.planted = true
	return true
}

// state is key k at node n at time t: the last commit of k it applied.
func (s *watchSim) state(n, k int, t int64) *wtCommit {
	var last *wtCommit
	for _, c := range s.commits {
		if c.key == k && c.applyAt[n] <= t {
			last = c
		}
	}
	return last
}

// readResult completes inv as a read of key k at node n served at t.
func (s *watchSim) readResult(inv history.Op, n, k int, t, ret int64) history.Op {
	done := inv
	done.Type, done.Time = history.OK, ret
	done.Value, done.Version, done.Zxid = history.Int64(0), history.Int32(0), zxidEpoch+int64(2+k)
	if c := s.state(n, k, t); c != nil {
		done.Value, done.Version, done.Zxid = history.Int64(c.value), history.Int32(c.version), c.zxid
	}
	return done
}

// write sets a random key to a fresh value, blindly.
func (s *watchSim) write(at int64, wk worker) {
	if s.issued >= s.cfg.Calls {
		return
	}
	s.issued++
	k := s.rng.IntN(s.cfg.Keys)
	s.nextVal++
	inv := history.Op{Type: history.Invoke, F: history.Write, Process: wk.process, Time: at, Key: s.key(k),
		Value: history.Int64(s.nextVal), Node: wk.node, Session: wk.session}
	s.tp.add(inv)
	typ, crash := outcome(s.rng, s.cfg.Info, s.cfg.Fail, s.cfg.Crash)
	effectAt := at + expNs(s.rng, time.Millisecond)
	returnAt := effectAt + expNs(s.rng, time.Millisecond)
	applies := typ == history.OK || (typ == history.Info && s.rng.IntN(2) == 0)
	if typ == history.Info && applies && s.rng.IntN(2) == 0 {
		effectAt = returnAt + expNs(s.rng, 2*time.Millisecond)
	}
	var made *wtCommit
	if applies {
		s.ag.schedule(effectAt, func(at int64) { made = s.commit(at, k, *inv.Value) })
	}
	s.ag.schedule(returnAt, func(int64) {
		done := inv
		done.Time = returnAt
		switch typ {
		case history.OK:
			done.Type, done.Version, done.Zxid = history.OK, history.Int32(made.version), made.zxid
		case history.Fail:
			done.Type, done.Error = history.Fail, errNoServer
		default:
			done.Type, done.Error = history.Info, errClosed
			wk.process = s.pool.process()
		}
		if !crash {
			s.tp.add(done)
		}
		s.ag.schedule(returnAt+expNs(s.rng, 2*time.Millisecond), func(at int64) { s.write(at, wk) })
	})
}

// commit makes the leader (node 0) apply a write of k at t; followers
// apply it a little later, in zxid order.
func (s *watchSim) commit(t int64, k int, value int64) *wtCommit {
	s.zxid++
	s.version[k]++
	c := &wtCommit{key: k, version: s.version[k], value: value, zxid: s.zxid}
	for n := range simulatedNodes {
		lag := int64(0)
		if n > 0 {
			lag = expNs(s.rng, 500*time.Microsecond)
		}
		c.applyAt[n] = max(t+lag, s.lastApply[n])
		s.lastApply[n] = c.applyAt[n]
	}
	s.commits = append(s.commits, c)
	return c
}

// arrival is when the event of the watch on k reaches the client, and its
// type; neverLost when it has not been sent.
func (s *watchSim) arrival(w *wtWatcher, k int) (int64, string) {
	r := w.conn.regs[k]
	at := int64(neverLost)
	for _, c := range s.commits {
		if c.key == k && c.version == r.version+1 && !r.missed {
			at = c.applyAt[w.index] + int64(watchRequestTrip)/2 + r.delay
		}
	}
	if at < w.conn.lostAt {
		return at, evDataChanged
	}
	if w.conn.expired {
		return w.conn.lostAt, evNotWatching
	}
	return neverLost, ""
}

type wtGot struct {
	key int
	typ string
}

// step is one turn of a watcher: open a session if it has none, maybe
// lose the connection, drain the events and re-arm, then arm or read a
// random key. Once every call is issued it reads its armed keys one last
// time and stops.
func (s *watchSim) step(at int64, w *wtWatcher) {
	last := s.issued >= s.cfg.Calls
	if last && w.conn == nil {
		return
	}
	s.issued++
	if w.conn == nil {
		w.conn = &wtConn{id: s.pool.session(), lostAt: neverLost, regs: map[int]*wtReg{}}
		w.session = w.conn.id
	}
	if !last && s.rng.Float64() < s.cfg.Loss {
		w.conn.lostAt = at + expNs(s.rng, watchRequestTrip)
		w.conn.expired = s.rng.IntN(2) == 0
	}
	next := func(at int64) {
		s.ag.schedule(at+expNs(s.rng, time.Millisecond), func(at int64) { s.step(at, w) })
	}
	s.drain(at, w, func(at int64) {
		if w.conn == nil {
			next(at)
			return
		}
		if last {
			s.finish(at, w, w.armed())
			return
		}
		k := s.rng.IntN(s.cfg.Keys)
		if _, armed := w.conn.regs[k]; armed {
			s.read(at, w, k, next)
			return
		}
		s.arm(at, w, k, next)
	})
}

// finish reads the keys still armed, one after the other.
func (s *watchSim) finish(at int64, w *wtWatcher, keys []int) {
	for len(keys) > 0 && w.conn != nil {
		k := keys[0]
		keys = keys[1:]
		if _, armed := w.conn.regs[k]; armed {
			s.read(at, w, k, func(at int64) { s.finish(at, w, keys) })
			return
		}
	}
}

func (w *wtWatcher) armed() []int {
	var keys []int
	for k := range w.conn.regs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// drain records the events delivered by now and re-arms their keys, or
// abandons the session if its connection is over.
func (s *watchSim) drain(at int64, w *wtWatcher, then func(at int64)) {
	var got []wtGot
	for _, k := range w.armed() {
		if a, typ := s.arrival(w, k); a <= at {
			got = append(got, wtGot{k, typ})
			delete(w.conn.regs, k)
		}
	}
	if armed := w.armed(); len(armed) > 0 && s.due(PhantomEvent) {
		k := armed[s.rng.IntN(len(armed))]
		got = append(got, wtGot{k, evDataChanged})
		delete(w.conn.regs, k)
	}
	if at >= w.conn.lostAt && (!w.conn.expired || s.rng.IntN(2) == 0) {
		reason := "reconnected"
		if w.conn.expired {
			reason = "expired"
		}
		s.abandon(at, w, reason, got)
		then(at)
		return
	}
	var rearm []int
	dropped := false
	for _, g := range got {
		s.event(at, w, g)
		if g.typ == evDataChanged && s.due(DuplicateEvent) {
			s.event(at, w, g)
		}
		if g.typ == evNotWatching {
			dropped = true
		} else {
			rearm = append(rearm, g.key)
		}
	}
	if dropped {
		s.abandon(at, w, "watches dropped", nil)
		then(at)
		return
	}
	s.rearm(at, w, rearm, then)
}

func (s *watchSim) rearm(at int64, w *wtWatcher, keys []int, then func(at int64)) {
	if len(keys) == 0 || w.conn == nil {
		then(at)
		return
	}
	s.arm(at, w, keys[0], func(at int64) { s.rearm(at, w, keys[1:], then) })
}

// record writes a record of the watcher's session as an invocation and an
// ok completion at once.
func (s *watchSim) record(at int64, w *wtWatcher, f, key, event, err string) {
	op := history.Op{Type: history.Invoke, F: f, Key: key, Process: w.process, Node: w.node, Session: w.conn.id, Time: at}
	s.tp.add(op)
	op.Type, op.Event, op.Error = history.OK, event, err
	s.tp.add(op)
}

func (s *watchSim) event(at int64, w *wtWatcher, g wtGot) {
	err := ""
	if g.typ == evNotWatching {
		err = errExpired
	}
	s.record(at, w, fWatchEvent, s.key(g.key), g.typ, err)
}

// abandon records the end of the connection, then the events still to
// record, and closes the session.
func (s *watchSim) abandon(at int64, w *wtWatcher, reason string, got []wtGot) {
	s.record(at, w, fWatchSession, "", reason, "")
	for _, k := range w.armed() {
		if a, typ := s.arrival(w, k); a <= at {
			got = append(got, wtGot{k, typ})
		}
	}
	for _, g := range got {
		s.event(at, w, g)
	}
	w.conn = nil
}

// request sends a request of the watcher for key k: it is served at its
// node half a round trip later and answered a round trip later, unless
// the connection broke first (info, and a fresh process). The call
// completes `look` after the reply, when served turns the invocation into
// the ok completion.
func (s *watchSim) request(at, look int64, w *wtWatcher, f string, k int, served func(inv history.Op, t1, t2 int64) history.Op, then func(at int64, ok bool)) {
	inv := history.Op{Type: history.Invoke, F: f, Process: w.process, Time: at, Key: s.key(k), Node: w.node, Session: w.conn.id}
	s.tp.add(inv)
	t1 := at + int64(watchRequestTrip)/2
	t2 := at + int64(watchRequestTrip) + look
	s.ag.schedule(t2, func(int64) {
		if w.conn.lostAt < t2 {
			done := inv
			done.Type, done.Time, done.Error = history.Info, t2, errClosed
			s.tp.add(done)
			w.process = s.pool.process()
			s.abandon(t2, w, "reconnected", nil)
			then(t2, false)
			return
		}
		s.tp.add(served(inv, t1, t2))
		then(t2, true)
	})
}

// arm reads key k with a watch: the node registers it at the version read.
func (s *watchSim) arm(at int64, w *wtWatcher, k int, then func(at int64)) {
	s.request(at, 0, w, fWatch, k, func(inv history.Op, t1, t2 int64) history.Op {
		done := s.readResult(inv, w.index, k, t1, t2)
		r := &wtReg{version: *done.Version, at: t1}
		r.missed = s.due(MissedWatch)
		if s.due(LateEvent) {
			r.delay = int64(20 * time.Millisecond)
		}
		w.conn.regs[k] = r
		return done
	}, func(at int64, _ bool) { then(at) })
}

// read reads armed key k and looks, the moment the reply is in, whether
// the event came: then it re-arms (or, for a dropped watch, abandons the
// session).
func (s *watchSim) read(at int64, w *wtWatcher, k int, then func(at int64)) {
	var marked string
	// The look at the channel comes a moment after the reply, and the
	// call completes after it.
	look := expNs(s.rng, 20*time.Microsecond)
	s.request(at, look, w, history.Read, k, func(inv history.Op, t1, t2 int64) history.Op {
		done := s.readResult(inv, w.index, k, t1, t2)
		if a, typ := s.arrival(w, k); a <= t2 {
			marked, done.Event = typ, typ
			delete(w.conn.regs, k)
		}
		return done
	}, func(at int64, ok bool) {
		switch {
		case !ok || marked == "":
			then(at)
		case marked == evNotWatching:
			s.abandon(at, w, "watches dropped", nil)
			then(at)
		default:
			s.arm(at, w, k, then)
		}
	})
}
