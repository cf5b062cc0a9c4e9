package gen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Mutation names an anomaly planted in a Sequential history.
type Mutation string

// The mutations Sequential can plant, once per history.
const (
	// NoMutation plants nothing: the history is sequentially consistent.
	NoMutation Mutation = ""
	// BackwardRead makes a session's read of a key return the state before
	// one the session had already read.
	BackwardRead Mutation = "backward-read"
	// MissingOwnWrite makes a session's read of a key it wrote return the
	// state before its own acknowledged write.
	MissingOwnWrite Mutation = "missing-own-write"
	// PhantomValue makes a read return a value no one wrote.
	PhantomValue Mutation = "phantom-value"
	// LostAck acknowledges a write, with the version and zxid it would have
	// made, that the server never applies.
	LostAck Mutation = "lost-write"
	// AppliedTwice applies a write again after the next write to its key.
	AppliedTwice Mutation = "duplicate-write"
	// SharedVersion makes an acknowledged write report the version of an
	// earlier acknowledged write of its key.
	SharedVersion Mutation = "shared-version"
	// ZxidSwap swaps, in every record, the zxids of two acknowledged writes
	// the first of which completed before the second was invoked.
	ZxidSwap Mutation = "zxid-swap"
)

// Mutations lists the mutations that plant something.
var Mutations = []Mutation{BackwardRead, MissingOwnWrite, PhantomValue, LostAck, AppliedTwice, SharedVersion, ZxidSwap}

// Read modes, as the register workload names them.
const (
	ReadPlain  = "plain"
	ReadSync   = "sync"
	ReadQuorum = "quorum"
)

// SequentialConfig shapes a generated register history as ZooKeeper's
// sessions see it. Zero fields take the defaults noted.
type SequentialConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Calls is the number of client calls. Default 30.
	Calls int
	// Keys is the number of registers. Default 2.
	Keys int
	// Clients is the number of workers, each pinned to one of three nodes in
	// turn as the workload pins them. Default 4.
	Clients int
	// ReadMode is ReadPlain, ReadSync or ReadQuorum. Default: one drawn from
	// Seed.
	ReadMode string
	// Reads and CAS are the shares of reads and cas among calls; the rest
	// are writes. Defaults 0.45 and 0.2.
	Reads, CAS float64
	// Info and Fail are the shares of calls that end indeterminate or
	// failed. Defaults 0.1 and 0.05.
	Info, Fail float64
	// Crash is the share of indeterminate calls whose client dies with no
	// completion record (its worker goes on as a new process). Default 0.2.
	Crash float64
	// Lag is the chance, at every event, that a follower applies one more
	// committed write. Default 0.08.
	Lag float64
	// Latency is the mean time from a call to its effect and from its effect
	// to its return. Default 1 ms.
	Latency time.Duration
	// FaultEvery and FaultFor place kill/start windows of a follower.
	// Defaults 8 ms and 3 ms; a negative FaultEvery places none.
	FaultEvery, FaultFor time.Duration
	// Mutation is the anomaly to plant, if any.
	Mutation Mutation
}

func (c *SequentialConfig) defaults() {
	setDefault(&c.Calls, 30)
	setDefault(&c.Keys, 2)
	setDefault(&c.Clients, 4)
	setDefault(&c.Reads, 0.45)
	setDefault(&c.CAS, 0.2)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.2)
	setDefault(&c.Lag, 0.08)
	setDefault(&c.Latency, time.Millisecond)
	setDefault(&c.FaultEvery, 8*time.Millisecond)
	setDefault(&c.FaultFor, 3*time.Millisecond)
}

// Node 0 leads throughout; the followers lag and are the ones killed.
const scLeader = 0

// scTxn is a committed write: the key's state it made.
type scTxn struct {
	key     int
	value   int64
	version int32
	zxid    int64
}

// scCall is one client call in flight.
type scCall struct {
	client   *scClient
	inv      history.Op
	key      int
	outcome  history.Type
	err      string
	applies  bool // a write that takes effect if its version check passes
	crashes  bool // no completion record
	effected bool
	effectAt int64
	returnAt int64
	result   scTxn // the state read, or made
}

// scClient is a worker: its session pinned to one node, its process, and
// the version it last saw per key (what its cas expects).
type scClient struct {
	node    int
	process history.Process
	session int64 // 0 until the next call opens one
	seen    map[int]int32
	next    int64 // when it invokes its next call
	cur     *scCall
}

// scSim is one generation: a leader's log, followers that apply it late,
// and clients.
type scSim struct {
	cfg      SequentialConfig
	rng      *rand.Rand
	ops      []history.Op
	keys     map[string]int
	states   [][]scTxn // per key, every state it took, by version
	log      []scTxn   // committed writes, in zxid order
	applied  [3]int    // how much of log each node applied
	zxid     int64
	values   []int64 // last value handed out per key
	sessions int64
	nextProc history.Process
	clients  []*scClient
	pending  []*scCall // calls whose effect is still to come
	issued   int
	now      int64
	down     int // the killed node, or -1
	killAt   int64
	startAt  int64
	// planting bookkeeping
	armed     bool
	planted   bool
	duplicate *scTxn // a write to apply again after the next write to its key
}

// Sequential generates a small register history by simulating workers
// against a model ZooKeeper: writes and cas through the leader in zxid order,
// reads served by the node the session is pinned to (a lagging follower
// serves stale but never older states; a sync read first catches up; a
// quorum read confirms its version with a check-only multi), indeterminate
// and failed calls, crashed clients, indeterminate writes applied after
// their client gave up, follower kills that end calls in flight and expire
// sessions, and new sessions after timeouts. The records are those the
// register workload writes. It reports whether cfg.Mutation was planted
// (not every history offers a place for it).
func Sequential(cfg SequentialConfig) ([]history.Op, bool) {
	cfg.defaults()
	s := &scSim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5e9)), down: -1, zxid: 1 << 32}
	if s.cfg.ReadMode == "" {
		s.cfg.ReadMode = []string{ReadPlain, ReadPlain, ReadSync, ReadQuorum}[s.rng.IntN(4)]
	}
	s.killAt, s.startAt = s.faultAfter(0), -1
	s.tick() // the setup creates the root
	s.keys = map[string]int{}
	s.states = make([][]scTxn, cfg.Keys)
	s.values = make([]int64, cfg.Keys)
	for k := range cfg.Keys {
		s.keys[scKey(k)] = k
		s.states[k] = []scTxn{{key: k, zxid: s.tick()}}
	}
	s.nextProc = history.Process(cfg.Clients)
	for w := range cfg.Clients {
		s.clients = append(s.clients, &scClient{node: w % 3, process: history.Process(w), seen: map[int]int32{}, next: s.exp()})
	}
	s.roles(0)
	for s.step() {
	}
	planted := s.planted
	if !slices.Contains([]Mutation{NoMutation, LostAck, AppliedTwice}, cfg.Mutation) {
		planted = s.mutate()
	}
	return s.ops, planted
}

// scKey names register k as the register workload does.
func scKey(k int) string { return fmt.Sprintf("k%d", k) }

func (s *scSim) tick() int64 {
	s.zxid++
	return s.zxid
}

func (s *scSim) exp() int64 {
	return max(int64(s.rng.ExpFloat64()*float64(s.cfg.Latency)), int64(time.Microsecond))
}

func (s *scSim) faultAfter(t int64) int64 {
	if s.cfg.FaultEvery < 0 {
		return -1
	}
	return t + int64(s.cfg.FaultEvery)
}

// record appends op with the next index.
func (s *scSim) record(op history.Op) {
	op.Index = int64(len(s.ops))
	s.ops = append(s.ops, op)
}

// roles records the role monitor's view.
func (s *scSim) roles(t int64) {
	r := map[string]string{}
	for n := range 3 {
		r[node(n)] = "follower"
	}
	r[node(scLeader)] = "leader"
	if s.down >= 0 {
		r[node(s.down)] = "down"
	}
	s.record(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: t, Roles: r})
}

// step runs the earliest event: an effect, a return, an invocation or a
// fault. It reports false when none is left.
func (s *scSim) step() bool {
	const none = int64(1) << 62
	at, run := none, func() {}
	consider := func(t int64, f func()) {
		if t >= 0 && t < at {
			at, run = t, f
		}
	}
	for _, c := range s.pending {
		consider(c.effectAt, func() { s.effect(c) })
	}
	for _, cl := range s.clients {
		switch {
		case cl.cur != nil:
			consider(cl.cur.returnAt, func() { s.complete(cl) })
		case s.issued < s.cfg.Calls && cl.node != s.down:
			consider(max(cl.next, s.now), func() { s.invoke(cl, at) })
		}
	}
	if s.issued < s.cfg.Calls {
		consider(s.killAt, func() { s.kill(at) })
	}
	consider(s.startAt, func() { s.start(at) })
	if at == none {
		return false
	}
	s.now = at
	for n := range s.applied {
		if n != s.down && s.rng.Float64() < s.cfg.Lag {
			s.applied[n] = min(len(s.log), s.applied[n]+1)
		}
	}
	s.applied[scLeader] = len(s.log)
	run()
	return true
}

// kill stops a follower: calls in flight on it end indeterminate.
func (s *scSim) kill(t int64) {
	s.down, s.killAt, s.startAt = 1+s.rng.IntN(2), -1, t+int64(s.cfg.FaultFor)
	s.fault("kill", t)
	for _, cl := range s.clients {
		if c := cl.cur; c != nil && cl.node == s.down && c.returnAt > t && !c.crashes {
			c.outcome, c.err, c.returnAt = history.Info, "zk: connection closed", t+int64(time.Microsecond)
			if !c.effected {
				c.applies = c.applies && s.rng.IntN(2) == 0 // forwarded to the leader, or not
			}
		}
	}
	// Reads the dead node had yet to serve never happen.
	s.pending = slices.DeleteFunc(s.pending, func(c *scCall) bool {
		return c.inv.F == history.Read && c.client.node == s.down
	})
}

// start restarts the killed follower; its clients' sessions may have
// expired meanwhile.
func (s *scSim) start(t int64) {
	s.fault("start", t)
	for _, cl := range s.clients {
		if cl.node == s.down && cl.session != 0 && s.rng.IntN(2) == 0 {
			cl.session, cl.process = 0, s.newProcess()
		}
	}
	s.down, s.startAt, s.killAt = -1, -1, s.faultAfter(t)
	s.roles(t)
}

func (s *scSim) fault(f string, t int64) {
	flt := &history.Fault{Name: "kill-follower", Targets: []string{node(s.down)}}
	s.record(history.Op{Type: history.Invoke, F: f, Process: history.NemesisProcess, Time: t, Fault: flt})
	s.record(history.Op{Type: history.OK, F: f, Process: history.NemesisProcess, Time: t, Fault: flt})
	if f == "kill" {
		s.roles(t)
	}
}

func (s *scSim) newProcess() history.Process {
	s.nextProc++
	return s.nextProc - 1
}

// invoke issues the client's next call, as the register workload picks it.
func (s *scSim) invoke(cl *scClient, t int64) {
	s.issued++
	if s.issued > s.cfg.Calls/2 && s.cfg.Mutation != NoMutation {
		s.armed = true
	}
	if cl.session == 0 {
		s.sessions++
		cl.session = int64(cl.node+1)<<56 | s.sessions
		s.tick() // createSession is a transaction
	}
	k := s.rng.IntN(s.cfg.Keys)
	inv := history.Op{Type: history.Invoke, Process: cl.process, Time: t, Key: scKey(k),
		Node: node(cl.node), Session: cl.session}
	seen, hasSeen := cl.seen[k]
	switch r := s.rng.Float64(); {
	case r >= s.cfg.Reads+s.cfg.CAS:
		inv.F = history.Write
	case r >= s.cfg.Reads && hasSeen:
		inv.F, inv.Expect = history.CAS, history.Int32(seen)
	default: // reads, and cas before anything was read
		inv.F = history.Read
	}
	if inv.F != history.Read {
		s.values[k]++
		inv.Value = history.Int64(s.values[k])
	}
	c := &scCall{client: cl, inv: inv, key: k, outcome: history.OK, applies: inv.F != history.Read}
	switch r := s.rng.Float64(); {
	case r < s.cfg.Info:
		c.outcome, c.err = history.Info, []string{"zk: connection closed", "operation timed out"}[s.rng.IntN(2)]
		c.applies = c.applies && s.rng.IntN(2) == 0
		c.crashes = s.rng.Float64() < s.cfg.Crash
	case r < s.cfg.Info+s.cfg.Fail:
		c.outcome, c.err, c.applies = history.Fail, "zk: could not connect to a server", false
	}
	c.effectAt = t + s.exp()
	c.returnAt = c.effectAt + s.exp()
	if c.outcome == history.Info && c.applies && s.rng.IntN(2) == 0 {
		c.effectAt = c.returnAt + s.exp() // applied after the client gave up
	}
	s.record(inv)
	cl.cur = c
	s.pending = append(s.pending, c)
}

// current is key k's latest state among the first n committed writes.
func (s *scSim) current(k, n int) scTxn {
	for i := n - 1; i >= 0; i-- {
		if s.log[i].key == k {
			return s.log[i]
		}
	}
	return s.states[k][0]
}

// effect applies a call: a write at the leader, a read at the client's node.
func (s *scSim) effect(c *scCall) {
	s.pending = slices.DeleteFunc(s.pending, func(p *scCall) bool { return p == c })
	c.effected = true
	n, k := c.client.node, c.key
	switch c.inv.F {
	case history.Read:
		switch s.cfg.ReadMode {
		case ReadSync:
			s.applied[n] = len(s.log)
			c.result = s.current(k, s.applied[n])
		case ReadQuorum:
			c.result = s.current(k, s.applied[n])
			s.tick() // the check-only multi
			s.applied[n] = len(s.log)
			if c.result.version != s.current(k, len(s.log)).version && c.outcome == history.OK {
				c.outcome, c.err = history.Fail, "read not confirmed by the quorum: zk: version conflict"
			}
		default:
			c.result = s.current(k, s.applied[n])
		}
		return
	case history.CAS:
		if s.current(k, len(s.log)).version != *c.inv.Expect {
			if c.outcome == history.OK {
				c.outcome, c.err = history.Fail, "zk: version conflict"
			}
			return
		}
	}
	if !c.applies {
		return
	}
	c.result = scTxn{key: k, value: *c.inv.Value, version: s.current(k, len(s.log)).version + 1, zxid: s.tick()}
	if s.armed && !s.planted && c.outcome == history.OK {
		switch s.cfg.Mutation {
		case LostAck:
			s.planted = true
			return // acknowledged as c.result, never applied
		case AppliedTwice:
			if s.duplicate == nil {
				s.duplicate = &c.result
			}
		}
	}
	s.commit(c.result)
	if d := s.duplicate; d != nil && d.key == k && d.zxid != c.result.zxid {
		s.commit(scTxn{key: k, value: d.value, version: c.result.version + 1, zxid: s.tick()})
		s.duplicate, s.planted = nil, true
	}
	if c.outcome == history.OK {
		s.applied[n] = len(s.log) // the node applied the log up to the write before answering
	}
}

func (s *scSim) commit(t scTxn) {
	s.log = append(s.log, t)
	s.states[t.key] = append(s.states[t.key], t)
}

// complete records the call's completion, unless its client crashed.
func (s *scSim) complete(cl *scClient) {
	c := cl.cur
	cl.cur, cl.next = nil, c.returnAt+s.exp()
	if c.crashes {
		// The worker comes back as a new process with a new session.
		cl.process, cl.session = s.newProcess(), 0
		return
	}
	done := c.inv
	done.Type, done.Time, done.Error = c.outcome, c.returnAt, c.err
	if c.outcome == history.OK {
		if c.inv.F == history.Read {
			done.Value = history.Int64(c.result.value)
		}
		done.Version, done.Zxid = history.Int32(c.result.version), c.result.zxid
		cl.seen[c.key] = c.result.version
	}
	s.record(done)
	if c.outcome == history.Info {
		cl.process = s.newProcess()
		if c.err == "operation timed out" {
			cl.session = 0 // the client abandons the session
		}
	}
}

// scRecord is an ok call of the history: its two records.
type scRecord struct{ inv, done int }

// mutate plants cfg.Mutation in the records, reporting whether it found a
// place for it.
func (s *scSim) mutate() bool {
	var oks []scRecord
	open := map[history.Process]int{}
	for i, op := range s.ops {
		switch {
		case op.IsNemesis():
		case op.Type == history.Invoke:
			open[op.Process] = i
		case op.Type == history.OK:
			oks = append(oks, scRecord{open[op.Process], i})
		}
	}
	var pairs [][2]scRecord // (earlier, later) candidates
	for _, a := range oks {
		for _, b := range oks {
			if s.ops[a.done].Time < s.ops[b.inv].Time && s.fits(a, b) {
				pairs = append(pairs, [2]scRecord{a, b})
			}
		}
	}
	if len(pairs) == 0 {
		return false
	}
	p := pairs[s.rng.IntN(len(pairs))]
	ra, rb := &s.ops[p[0].done], &s.ops[p[1].done]
	switch s.cfg.Mutation {
	case BackwardRead, MissingOwnWrite:
		st := s.states[s.keys[ra.Key]][*ra.Version-1]
		rb.Value, rb.Version, rb.Zxid = history.Int64(st.value), history.Int32(st.version), st.zxid
	case PhantomValue:
		rb.Value = history.Int64(1_000_000 + s.rng.Int64N(1000))
	case SharedVersion:
		rb.Version = history.Int32(*ra.Version)
	case ZxidSwap:
		za, zb := ra.Zxid, rb.Zxid
		for i := range s.ops {
			switch s.ops[i].Zxid {
			case za:
				s.ops[i].Zxid = zb
			case zb:
				s.ops[i].Zxid = za
			}
		}
	}
	return true
}

// fits reports whether ok calls a (earlier) and b (later) are a place for
// the mutation.
func (s *scSim) fits(a, b scRecord) bool {
	ia, da, db := s.ops[a.inv], s.ops[a.done], s.ops[b.done]
	sameSession := ia.Session == db.Session && da.Session == db.Session && ia.Key == db.Key
	switch s.cfg.Mutation {
	case BackwardRead:
		return sameSession && ia.F == history.Read && db.F == history.Read && *da.Version >= 1
	case MissingOwnWrite:
		return sameSession && ia.F != history.Read && db.F == history.Read
	case PhantomValue:
		return db.F == history.Read
	case SharedVersion:
		return ia.F != history.Read && db.F != history.Read && ia.Key == db.Key
	case ZxidSwap:
		return ia.F != history.Read && db.F != history.Read
	}
	return false
}
