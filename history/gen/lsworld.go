package gen

import (
	"math/rand/v2"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

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
