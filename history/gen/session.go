package gen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Record names of the lock and session workloads, as lock.Acquire
// and its neighbours spell them (the generator imports no checker).
const (
	lsAcquire = "acquire"
	lsRelease = "release"
	lsSession = "session"
	lsCreate  = "create"
	lsExists  = "exists"
)

// Session events, as the session observer records them.
const (
	lsEstablished  = "StateHasSession"
	lsDisconnected = "StateDisconnected"
	lsExpired      = "StateExpired"
	lsClosed       = "closed"
)

// Client errors the workloads record.
const (
	lsErrClosed   = "zk: connection closed"
	lsErrNoServer = "zk: could not connect to a server"
	lsErrExpired  = "zk: session has been expired by the server"
	lsErrNoNode   = "zk: node does not exist"
)

// The anomalies Lock and Sessions can plant, once.
const (
	// DoubleHolder grants the lock to a contender while a lower contender's
	// node still exists (Lock).
	DoubleHolder Anomaly = "double-holder"
	// NodeVanished deletes an ephemeral node while its session lives (Lock:
	// a holder's node; Sessions: any node).
	NodeVanished Anomaly = "node-vanished"
	// NodeOutlived keeps, for good, the nodes of the first session to end
	// while calls are still being issued (Sessions).
	NodeOutlived Anomaly = "node-outlived"
	// WrongOwner makes one check that found a node report another session
	// as its ephemeral owner (Sessions).
	WrongOwner Anomaly = "wrong-owner"
)

// SessionAnomalies lists the anomalies Sessions plants.
var SessionAnomalies = []Anomaly{NodeVanished, NodeOutlived, WrongOwner}

// SessionsConfig shapes a generated history of the session workload. Zero
// fields take the defaults noted.
type SessionsConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Source, when set, supplies every random choice instead of Seed.
	Source rand.Source
	// Workers is the number of concurrent workers. Default 3.
	Workers int
	// Calls is the number of creates and checks before the final reads.
	// Default 24.
	Calls int
	// Timeout is the clients' session timeout. Default 1 s.
	Timeout time.Duration
	// Margin is the checker's margin the final reads wait for beyond the
	// timeout; the simulated servers delete a session's nodes well within
	// it. Default 500 ms.
	Margin time.Duration
	// Expire is the share of calls before which the worker is cut off from
	// the ensemble until its session expires. Default 0.1.
	Expire float64
	// Leaderless is the share of calls before which the leader dies and the
	// ensemble has none for up to a session timeout. Default 0.05.
	Leaderless float64
	// Info, Fail and Crash are the shares of calls that end indeterminate,
	// fail, or never complete. Defaults 0.1, 0.05, 0.02.
	Info, Fail, Crash float64
	// Anomaly is the violation to plant, if any.
	Anomaly Anomaly
}

func (c *SessionsConfig) defaults() {
	setDefault(&c.Workers, 3)
	setDefault(&c.Calls, 24)
	setDefault(&c.Timeout, time.Second)
	setDefault(&c.Margin, 500*time.Millisecond)
	setDefault(&c.Expire, 0.1)
	setDefault(&c.Leaderless, 0.05)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.02)
}

// lsWorld is what the lock and session simulations share: the clock and
// its agenda, the records, process and session numbering, the clients'
// sessions and the ensemble's leaderless times.
type lsWorld struct {
	rng      *rand.Rand
	ops      []history.Op
	agenda   []lsTimed
	seq, now int64
	nextProc history.Process
	sessions int64
	timeout  int64
	gaps     []lsGap
	// leader is the node that leads; lossUnseen is how late the loss of a
	// leader may be first observed.
	leader     string
	lossUnseen int64
	zxid       int64
	// info, fail and crash are the shares of indeterminate, failed and
	// never completed calls.
	info, fail, crash float64
	// drop deletes the ephemeral nodes of a session on the servers.
	drop func(session int64)
	// unrecorded are the sessions of crashed workers, whose end nothing
	// records.
	unrecorded map[int64]bool
}

// lsTimed is something due at a time; ties run in the order scheduled.
type lsTimed struct {
	at, seq int64
	do      func()
}

// lsGap is a time without a leader, [from, to).
type lsGap struct{ from, to int64 }

func newWorld(seed uint64, src rand.Source, workers int, timeout time.Duration, info, fail, crash float64) *lsWorld {
	if src == nil {
		src = rand.NewPCG(seed, 0x10c5)
	}
	return &lsWorld{rng: rand.New(src), nextProc: history.Process(workers), timeout: int64(timeout),
		info: info, fail: fail, crash: crash, unrecorded: map[int64]bool{}}
}

// at schedules do at t (never in the past).
func (w *lsWorld) at(t int64, do func()) {
	w.seq++
	w.agenda = append(w.agenda, lsTimed{max(t, w.now), w.seq, do})
}

// run runs the agenda until nothing is left to do.
func (w *lsWorld) run() {
	for len(w.agenda) > 0 {
		k := 0
		for i, e := range w.agenda {
			if e.at < w.agenda[k].at || (e.at == w.agenda[k].at && e.seq < w.agenda[k].seq) {
				k = i
			}
		}
		e := w.agenda[k]
		w.agenda = append(w.agenda[:k], w.agenda[k+1:]...)
		w.now = e.at
		e.do()
	}
}

// record appends op at the current time.
func (w *lsWorld) record(op history.Op) {
	op.Index, op.Time = int64(len(w.ops)), w.now
	w.ops = append(w.ops, op)
}

// lat draws a network and server latency, 0.2 to 5 ms.
func (w *lsWorld) lat() int64 {
	return int64(200*time.Microsecond) + w.rng.Int64N(int64(5*time.Millisecond))
}

// share draws a duration between lo and hi times d.
func (w *lsWorld) share(d int64, lo, hi float64) int64 {
	return int64(float64(d) * (lo + (hi-lo)*w.rng.Float64()))
}

func (w *lsWorld) process() history.Process {
	p := w.nextProc
	w.nextProc++
	return p
}

func (w *lsWorld) nextZxid() int64 {
	w.zxid++
	return 0x100000000 + w.zxid
}

// leaderless returns the end of the time without a leader at t, if any.
func (w *lsWorld) leaderless(t int64) (int64, bool) {
	for _, g := range w.gaps {
		if g.from <= t && t < g.to {
			return g.to, true
		}
	}
	return 0, false
}

// loseLeader plans a time without a leader able to commit from now, for up
// to a session timeout. The role monitor sees it in one of the ways the
// harness's does: no leader at all; the old leader still leading without a
// quorum (cut off from its followers, which look for a new one), then a new
// leader or the old one with its quorum back; or only the new leader, both
// changes having fallen between two observations. The
// loss is first seen up to w.lossUnseen late (followers give up on a silent
// leader only after syncLimit*tickTime).
func (w *lsWorld) loseLeader() {
	if _, ok := w.leaderless(w.now); ok {
		return
	}
	g := lsGap{w.now, w.now + w.share(w.timeout, 0.1, 1)}
	w.gaps = append(w.gaps, g)
	nodes := []string{"n1", "n2", "n3"}
	old := w.leader
	if old == "" {
		old = "n1"
	}
	way := w.rng.IntN(4)
	w.leader = nodes[w.rng.IntN(len(nodes))]
	for w.leader == old && way != 3 {
		w.leader = nodes[w.rng.IntN(len(nodes))]
	}
	roles := func(leader, others string) map[string]string {
		r := map[string]string{}
		for _, n := range nodes {
			r[n] = others
		}
		r[leader] = "leader"
		return r
	}
	f := &history.Fault{Name: "kill-leader", Targets: []string{old}}
	w.record(history.Op{Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Fault: f})
	w.record(history.Op{Type: history.OK, F: "kill", Process: history.NemesisProcess, Fault: f})
	seen := min(g.from+w.share(w.lossUnseen, 0, 1), g.to-1)
	switch way {
	case 0:
		lost := roles(old, "looking")
		lost[old] = "down"
		w.at(seen, func() { w.observeRoles(lost) })
	case 1, 3:
		w.at(seen, func() { w.observeRoles(roles(old, "looking")) })
	}
	w.at(g.to, func() {
		w.record(history.Op{Type: history.Invoke, F: "start", Process: history.NemesisProcess, Fault: f})
		w.record(history.Op{Type: history.OK, F: "start", Process: history.NemesisProcess, Fault: f})
		w.observeRoles(roles(w.leader, "follower"))
	})
}

// observeRoles records the role monitor's view.
func (w *lsWorld) observeRoles(roles map[string]string) {
	w.record(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Roles: roles})
}

// endSession has the servers delete the session's nodes at t, or, when
// there is no leader to commit that, some time within a session timeout
// after the next leader starts leading.
func (w *lsWorld) endSession(s, t int64) {
	w.at(t, func() {
		if end, ok := w.leaderless(w.now); ok {
			w.endSession(s, end+w.share(w.timeout, 0.05, 1))
			return
		}
		w.drop(s)
	})
}

// lsClient is one worker's ZooKeeper client.
type lsClient struct {
	proc     history.Process
	node     string
	observer history.Process // records the connection's session events; 0 without a connection
	session  int64           // the connection's session
	seen     int64           // the session the worker last saw
	cutUntil int64           // cut off from the ensemble until then
	crashed  bool
}

// event records a session event of c's connection.
func (w *lsWorld) event(c *lsClient, ev string, s int64) {
	op := history.Op{Type: history.Info, F: lsSession, Process: c.observer, Node: c.node, Event: ev, Session: s}
	if ev == lsEstablished {
		op.Value = history.Int64(w.timeout / int64(time.Millisecond))
	}
	w.record(op)
}

// ready gives c a live session, as workloads.Client.Ready does: a new
// connection when it has none, and a new process for a new session.
func (w *lsWorld) ready(c *lsClient) {
	if c.observer == 0 {
		w.sessions++
		c.observer, c.session = w.process(), 0x1000000+w.sessions<<8
		w.event(c, lsEstablished, c.session)
	}
	if c.seen != c.session {
		if c.seen != 0 {
			c.proc = w.process()
		}
		c.seen = c.session
	}
}

// close closes c's session, if it has one: the servers delete its nodes,
// then the observer records the close.
func (w *lsWorld) close(c *lsClient) {
	if c.observer == 0 {
		return
	}
	s, obs := c.session, c.observer
	w.endSession(s, w.now+w.lat())
	w.at(w.now+w.lat()+w.lat(), func() {
		w.record(history.Op{Type: history.Info, F: lsSession, Process: obs, Node: c.node, Event: lsClosed, Session: s})
	})
	c.observer, c.session, c.seen = 0, 0, 0
}

// cutOff cuts c off from the ensemble until its session expires: the
// servers expire it a session timeout on, and the client hears of it a
// little before or after, then gets a new session on the same connection.
func (w *lsWorld) cutOff(c *lsClient, margin int64) {
	s := c.session
	expiry := w.now + w.share(w.timeout, 1, 1.1)
	c.cutUntil = max(expiry+w.share(margin, -0.3, 0.6), w.now+1)
	w.endSession(s, expiry)
	w.at(w.now+w.share(w.timeout, 0.3, 0.6), func() { w.event(c, lsDisconnected, s) })
	w.at(c.cutUntil, func() {
		w.event(c, lsExpired, s)
		w.sessions++
		c.session = 0x1000000 + w.sessions<<8
		w.event(c, lsEstablished, c.session)
	})
}

// invoke records c's invocation of op.
func (w *lsWorld) invoke(c *lsClient, op history.Op) history.Op {
	op.Type, op.Process, op.Node, op.Session = history.Invoke, c.proc, c.node, c.session
	w.record(op)
	return op
}

// complete records the completion of c's call; after an indeterminate one
// the worker goes on as a new process.
func (w *lsWorld) complete(c *lsClient, done history.Op) {
	if c.session != 0 {
		done.Session = c.session
	}
	w.record(done)
	if done.Type == history.Info {
		c.proc = w.process()
	}
}

// finish completes c's call with done and continues with then, unless the
// worker crashes first: then nothing more is recorded, and its session
// expires on the servers.
func (w *lsWorld) finish(c *lsClient, done history.Op, then func(history.Op)) {
	if w.rng.Float64() < w.crash {
		c.crashed = true
		w.unrecorded[c.session] = true
		w.endSession(c.session, w.now+w.share(w.timeout, 1, 1.1))
		return
	}
	w.complete(c, done)
	then(done)
}

// exchange runs one request of c that changes or reads the servers: apply
// takes effect a latency after now and returns the completion, which is
// recorded a latency later. A request that meets a cut-off client or no
// leader ends indeterminate when the client is back, having applied or not;
// others may fail unsent, end indeterminate after applying or not, or
// never complete (the worker crashed: its session expires on the servers, and
// nothing more is recorded). then continues with the completion unless the
// worker crashed.
func (w *lsWorld) exchange(c *lsClient, inv history.Op, apply func() history.Op, then func(history.Op)) {
	finish := func(done history.Op) { w.finish(c, done, then) }
	w.at(w.now+w.lat(), func() {
		lost := inv
		lost.Type, lost.Error = history.Info, lsErrClosed
		if w.now < c.cutUntil {
			lost.Error = lsErrExpired
			w.at(c.cutUntil, func() { finish(lost) })
			return
		}
		if end, ok := w.leaderless(w.now); ok {
			w.at(end, func() {
				if w.rng.IntN(2) == 0 {
					apply()
				}
				finish(lost)
			})
			return
		}
		var done history.Op
		switch r := w.rng.Float64(); {
		case r < w.fail:
			done = inv
			done.Type, done.Error = history.Fail, lsErrNoServer
		case r < w.fail+w.info:
			done = lost
			if w.rng.IntN(2) == 0 {
				apply()
			}
		default:
			done = apply()
		}
		w.at(w.now+w.lat(), func() {
			if w.now < c.cutUntil {
				done = lost
				done.Error = lsErrExpired
				w.at(c.cutUntil, func() { finish(done) })
				return
			}
			finish(done)
		})
	})
}

// sessNode is an ephemeral node on the simulated servers.
type sessNode struct {
	owner, czxid int64
}

// sessSim is one generation of a session workload history.
type sessSim struct {
	*lsWorld
	cfg     SessionsConfig
	nodes   map[string]sessNode
	tried   []string // every path a create was invoked for, in order
	issued  int
	planted bool
	keep    int64 // the session whose nodes outlive it (NodeOutlived)
	open    int   // workers still running
}

// Sessions returns a history of the session workload as workloads/session
// records it: every worker's session owns an ephemeral node (created under
// a name of its process), and the workers check, through the quorum,
// whether their own node or a recent node of another worker exists. Clients
// are cut off until their sessions expire, the leader dies, calls end
// indeterminate or fail, processes crash; at the end the workers close their
// sessions and, once the timeout and margin have passed, a fresh client per
// server checks every node. Without an anomaly it is valid.
func Sessions(cfg SessionsConfig) []history.Op {
	cfg.defaults()
	s := &sessSim{lsWorld: newWorld(cfg.Seed, cfg.Source, cfg.Workers, cfg.Timeout, cfg.Info, cfg.Fail, cfg.Crash),
		cfg: cfg, nodes: map[string]sessNode{}}
	s.lossUnseen = int64(cfg.Margin) * 9 / 10
	s.drop = func(session int64) {
		if session == s.keep {
			return
		}
		if s.cfg.Anomaly == NodeOutlived && !s.planted && s.issued < s.cfg.Calls && !s.unrecorded[session] && s.owns(session) {
			s.keep, s.planted = session, true
			return
		}
		for p, n := range s.nodes {
			if n.owner == session {
				delete(s.nodes, p)
			}
		}
	}
	own := make([]string, cfg.Workers)
	owned := make([]int64, cfg.Workers)
	s.open = cfg.Workers
	for i := range cfg.Workers {
		c := &lsClient{proc: history.Process(i), node: fmt.Sprintf("n%d", i%3+1)}
		var step func()
		step = func() {
			if c.crashed {
				s.stopped()
				return
			}
			if s.issued == cfg.Calls {
				s.close(c)
				s.stopped()
				return
			}
			s.issued++
			s.faults(c)
			s.ready(c)
			next := func(history.Op) { s.at(s.now+s.share(s.timeout, 0.1, 1), step) }
			if own[i] == "" || owned[i] != c.session {
				path := fmt.Sprintf("/zkchaos-session/%d-%d", c.proc, s.issued)
				s.create(c, path, func(done history.Op) {
					if done.Type == history.OK {
						own[i], owned[i] = path, done.Session
					}
					next(done)
				})
				return
			}
			target := own[i]
			if recent := s.tried[max(len(s.tried)-3*cfg.Workers, 0):]; s.rng.IntN(2) == 0 {
				target = recent[s.rng.IntN(len(recent))]
			}
			s.check(c, target, next)
		}
		s.at(s.lat(), step)
	}
	s.run()
	return s.ops
}

// owns reports whether session owns a node.
func (s *sessSim) owns(session int64) bool {
	for _, n := range s.nodes {
		if n.owner == session {
			return true
		}
	}
	return false
}

// faults cuts c off until its session expires, loses the leader, or
// plants a vanished node, at the configured odds.
func (s *sessSim) faults(c *lsClient) {
	switch r := s.rng.Float64(); {
	case c.session != 0 && r < s.cfg.Expire:
		s.cutOff(c, int64(s.cfg.Margin))
	case r < s.cfg.Expire+s.cfg.Leaderless:
		s.loseLeader()
	}
	if s.cfg.Anomaly == NodeVanished && !s.planted && s.issued > s.cfg.Calls/3 {
		for p, n := range s.nodes {
			if n.owner == c.session && s.now >= c.cutUntil {
				delete(s.nodes, p)
				s.planted = true
			}
		}
	}
}

// stopped counts a worker out; after the last, the final reads begin once
// every session must be gone.
func (s *sessSim) stopped() {
	if s.open--; s.open > 0 {
		return
	}
	s.at(s.now+int64(s.cfg.Timeout+s.cfg.Margin+time.Second), func() {
		for n := range 3 {
			c := &lsClient{proc: s.process(), node: fmt.Sprintf("n%d", n+1)}
			s.ready(c)
			paths := append([]string(nil), s.tried...)
			var read func(history.Op)
			read = func(history.Op) {
				if len(paths) == 0 {
					s.close(c)
					return
				}
				p := paths[0]
				paths = paths[1:]
				s.final(c, p, read)
			}
			read(history.Op{})
		}
	})
}

func (s *sessSim) create(c *lsClient, path string, then func(history.Op)) {
	s.tried = append(s.tried, path)
	inv := s.invoke(c, history.Op{F: lsCreate, Path: path})
	s.exchange(c, inv, func() history.Op {
		done := inv
		if _, ok := s.nodes[path]; ok {
			done.Type, done.Error = history.Fail, "zk: node already exists"
			return done
		}
		s.nodes[path] = sessNode{owner: inv.Session, czxid: s.nextZxid()}
		done.Type = history.OK
		return done
	}, then)
}

// check asks whether path exists, as workloads/session's exists does: a
// read of the connected server (which may lag and miss the owner) and a
// check-only multi through the leader.
func (s *sessSim) check(c *lsClient, path string, then func(history.Op)) {
	inv := s.invoke(c, history.Op{F: lsExists, Path: path})
	s.exchange(c, inv, func() history.Op { return s.exists(inv) }, then)
}

func (s *sessSim) exists(inv history.Op) history.Op {
	done := inv
	done.Type, done.Value = history.OK, history.Int64(0)
	n, ok := s.nodes[inv.Path]
	if !ok {
		return done
	}
	done.Value = history.Int64(1)
	if s.rng.IntN(8) > 0 {
		done.Values, done.Zxid = []int64{n.owner}, n.czxid
		if s.cfg.Anomaly == WrongOwner && !s.planted && n.owner != inv.Session {
			done.Values[0], s.planted = inv.Session, true
		}
	}
	return done
}

// final is one check of the final reads: no faults, every call completes.
func (s *sessSim) final(c *lsClient, path string, then func(history.Op)) {
	inv := s.invoke(c, history.Op{F: lsExists, Path: path})
	s.at(s.now+s.lat(), func() {
		done := s.exists(inv)
		s.at(s.now+s.lat(), func() {
			s.complete(c, done)
			then(done)
		})
	})
}
