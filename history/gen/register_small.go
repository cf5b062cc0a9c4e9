package gen

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// More anomalies, planted by Small on a random key after a random call:
// a misbehaving server, or a history whose records were corrupted.
const (
	// Phantom makes one read return a value that no write wrote, at the
	// znode's current version.
	Phantom Anomaly = "phantom"
	// Reorder swaps the versions (and zxids) that two acknowledged writes
	// of one key reported.
	Reorder Anomaly = "reorder"
	// WrongVersion makes one acknowledged write report a version one above
	// the one it made.
	WrongVersion Anomaly = "wrong-version"
)

// SmallAnomalies lists the anomalies Small can plant.
var SmallAnomalies = []Anomaly{StaleRead, LostWrite, DuplicateWrite, Phantom, Reorder, WrongVersion}

// SmallConfig shapes a small register history. Zero fields take the
// defaults noted.
type SmallConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Calls is the number of calls the workers make. Default 8.
	Calls int
	// Keys is the number of registers. Default 1.
	Keys int
	// Workers is the number of workers, pinned to the nodes n1, n2, n3 in
	// turn. Default 3.
	Workers int
	// ReadMode is how workers read: "plain", "sync" or "quorum" (the
	// default).
	ReadMode string
	// Reads and CAS are the shares of reads and cas among calls; the rest
	// are writes. Defaults 0.4 and 0.3.
	Reads, CAS float64
	// Info is the share of calls that time out (the effect may or may not
	// come); Fail the share refused before they reach a server. Defaults
	// 0.1 and 0.05.
	Info, Fail float64
	// Crash is the share of timed-out calls whose completion is never
	// recorded (the run ended while they were in flight). Default 0.3.
	Crash float64
	// Kill is the chance of one kill-leader window during the calls:
	// the leader's clients lose their calls in flight and cannot connect
	// until it is started again; writes wait for the new leader. Default 0.5.
	Kill float64
	// FinalReads adds the harness's final quorum reads of every key on
	// every node, and each node's snapshot.
	FinalReads bool
	// Anomaly is the violation to plant, if any; it is planted when the
	// history offers a place for it, which Small reports.
	Anomaly Anomaly
}

func (c *SmallConfig) defaults() {
	setDefault(&c.Calls, 8)
	setDefault(&c.Keys, 1)
	setDefault(&c.Workers, 3)
	setDefault(&c.ReadMode, "quorum")
	setDefault(&c.Reads, 0.4)
	setDefault(&c.CAS, 0.3)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.3)
	setDefault(&c.Kill, 0.5)
}

// Errors as go-zookeeper and the workload spell them.
const (
	errNotQuorum = "read not confirmed by the quorum: " + errConflict
)

// smallState is a znode's data version, value and mzxid, and when the write
// that made it was committed.
type smallState struct {
	value   int64
	version int32
	zxid    int64
	at      int64
}

// smallCall is one call of a worker.
type smallCall struct {
	w        *smallWorker
	inv      history.Op
	key      int
	outcome  history.Type
	err      string
	applies  bool // an indeterminate call whose effect comes
	crashes  bool // no completion record
	effectAt int64
	returnAt int64
	made     smallState // what a write made
	plant    bool       // the planted anomaly's call
}

// smallWorker is a client: a session pinned to one node.
type smallWorker struct {
	node    int
	process history.Process
	session int64
	seen    map[int]int32 // the version last seen per key, for cas
}

// smallEvent is a call's invocation, effect on the leader, or return.
type smallEvent struct {
	at, seq int64
	do      func()
	ret     *smallCall // the call, for its return
}

// smallSim is a small ensemble of three nodes serving the workers: one
// leader orders the writes; followers apply them a little later, and serve
// plain reads from what they have.
type smallSim struct {
	cfg      SmallConfig
	rng      *rand.Rand
	ops      []history.Op
	events   []smallEvent
	seq      int64
	logs     [][]smallState // per key, the committed states in order
	values   []int64        // the last value handed out, per key
	lag      [3]int64       // how far each node is behind the leader
	leader   int
	epoch    int64
	counter  int64
	sessions [3]int64
	nextProc history.Process
	issued   int
	// the kill window: the leader is down from killAt to startAt, and no
	// write commits before electedAt
	killAt, electedAt, startAt int64
	killed                     int
	plantAfter                 int // the planted anomaly goes to a call after this many
	planted                    bool
	duplicate                  *smallCall
}

// Small generates a small register history exactly as the register
// workload records one: calls with node, session, values unique per key,
// cas expecting the version the worker last saw, data versions and zxids
// from a simulated ensemble; kill-leader windows with their nemesis and role
// records; timeouts, lost connections, refusals, crashed calls. Without an
// anomaly, the history is linearizable. Planted reports whether the anomaly
// found a place.
func Small(cfg SmallConfig) (ops []history.Op, planted bool) {
	cfg.defaults()
	s := &smallSim{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5a11)),
		logs: make([][]smallState, cfg.Keys), values: make([]int64, cfg.Keys),
		epoch: 1, nextProc: history.Process(cfg.Workers),
		killAt: -1, electedAt: -1, startAt: -1, killed: -1,
	}
	s.leader = s.rng.IntN(3)
	for n := range s.lag {
		if n != s.leader {
			s.lag[n] = s.exp(2 * time.Millisecond)
		}
		s.sessions[n] = int64(n+1)<<56 | 0x8b8a000000
	}
	for k := range s.logs {
		s.logs[k] = []smallState{{zxid: s.nextZxid()}}
	}
	s.plantAfter = s.rng.IntN(max(cfg.Calls/2, 1))
	s.roles(0)
	if s.rng.Float64() < cfg.Kill {
		s.killAt = int64(time.Millisecond) + s.rng.Int64N(int64(cfg.Calls)*int64(time.Millisecond)/max(int64(cfg.Workers), 1))
		s.electedAt = s.killAt + s.exp(2*time.Millisecond)
		s.startAt = s.electedAt + s.exp(3*time.Millisecond)
	}
	for i := range cfg.Workers {
		w := &smallWorker{node: i % 3, process: history.Process(i), seen: map[int]int32{}}
		w.session = s.newSession(w.node)
		s.next(s.exp(time.Millisecond), w)
	}
	s.run()
	if cfg.FinalReads {
		s.finalReads()
	}
	switch cfg.Anomaly {
	case Reorder:
		s.reorder()
	case WrongVersion:
		s.wrongVersion()
	}
	slices.SortStableFunc(s.ops, func(a, b history.Op) int { return cmp.Compare(a.Time, b.Time) })
	for i := range s.ops {
		s.ops[i].Index = int64(i)
	}
	return s.ops, s.planted
}

func (s *smallSim) exp(mean time.Duration) int64 {
	return max(int64(s.rng.ExpFloat64()*float64(mean)), int64(time.Microsecond))
}

func (s *smallSim) nextZxid() int64 {
	s.counter++
	return s.epoch<<32 | s.counter
}

// newSession is the id ZooKeeper gives a session on node n: the server's id
// in the top byte.
func (s *smallSim) newSession(n int) int64 {
	s.sessions[n]++
	return s.sessions[n]
}

func (s *smallSim) schedule(at int64, do func(), ret *smallCall) {
	s.seq++
	s.events = append(s.events, smallEvent{at: at, seq: s.seq, do: do, ret: ret})
}

// run handles the events in time order, the nemesis's among them.
func (s *smallSim) run() {
	for len(s.events) > 0 {
		i := 0
		for j, e := range s.events {
			if e.at < s.events[i].at || (e.at == s.events[i].at && e.seq < s.events[i].seq) {
				i = j
			}
		}
		e := s.events[i]
		s.events = slices.Delete(s.events, i, i+1)
		s.nemesisUntil(e.at)
		e.do()
	}
	s.nemesisUntil(1 << 62)
}

func (s *smallSim) down(n int, t int64) bool {
	return n == s.killed && t >= s.killAt && t < s.startAt
}

// nemesisUntil records the kill, the election and the start due by t.
func (s *smallSim) nemesisUntil(t int64) {
	if s.killAt < 0 {
		return
	}
	if s.killed < 0 && s.killAt <= t {
		s.killed = s.leader
		f := history.Fault{Name: "kill leader"}
		s.record(history.Op{Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Time: s.killAt, Fault: &f})
		done := f
		done.Targets = []string{node(s.killed)}
		s.record(history.Op{Type: history.Info, F: "kill", Process: history.NemesisProcess, Time: s.killAt + 1000, Fault: &done})
		// The calls in flight on the killed node lose their connection:
		// what reached the leader before the kill stays.
		for _, e := range s.events {
			if c := e.ret; c != nil && c.w.node == s.killed && !c.crashes {
				c.outcome, c.err = history.Info, errClosed
			}
		}
	}
	if s.leader == s.killed && s.electedAt <= t {
		s.leader = (s.killed + 1) % 3
		s.lag[s.leader] = 0
		s.epoch++
		s.counter = 0
		s.roles(s.electedAt)
	}
	if s.startAt >= 0 && s.startAt <= t {
		f := history.Fault{Name: "kill leader", Targets: []string{node(s.killed)}}
		s.record(history.Op{Type: history.Invoke, F: "start", Process: history.NemesisProcess, Time: s.startAt, Fault: &f})
		s.record(history.Op{Type: history.Info, F: "start", Process: history.NemesisProcess, Time: s.startAt + 1000, Fault: &f})
		s.lag[s.killed] = s.exp(2 * time.Millisecond)
		s.roles(s.startAt + 2000)
		s.startAt = -1
	}
}

// roles records the role monitor's view at t.
func (s *smallSim) roles(t int64) {
	r := map[string]string{}
	for n := range 3 {
		r[node(n)] = "follower"
		if s.down(n, t) {
			r[node(n)] = "down"
		}
	}
	r[node(s.leader)] = "leader"
	s.record(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: t, Roles: r})
}

func (s *smallSim) record(op history.Op) { s.ops = append(s.ops, op) }

// invoke issues the worker's next call as the register workload does.
func (s *smallSim) invoke(at int64, c *smallCall) {
	if s.issued == s.cfg.Calls {
		return
	}
	s.issued++
	w := c.w
	k := s.rng.IntN(s.cfg.Keys)
	c.key = k
	c.inv = history.Op{Type: history.Invoke, Process: w.process, Time: at, Key: "k" + strconv.Itoa(k), Node: node(w.node), Session: w.session}
	x := s.rng.Float64()
	_, seen := w.seen[k]
	switch {
	case x >= s.cfg.Reads && x < s.cfg.Reads+s.cfg.CAS && seen:
		c.inv.F, c.inv.Expect = history.CAS, history.Int32(w.seen[k])
	case x >= s.cfg.Reads+s.cfg.CAS:
		c.inv.F = history.Write
	default:
		c.inv.F = history.Read
	}
	if c.inv.F != history.Read {
		s.values[k]++
		c.inv.Value = history.Int64(s.values[k])
	}
	s.record(c.inv)
	c.plant = !s.planted && s.issued > s.plantAfter && s.cfg.Anomaly != None

	c.outcome, c.applies = history.OK, true
	c.effectAt = at + s.exp(time.Millisecond)
	c.returnAt = c.effectAt + s.lag[w.node] + s.exp(time.Millisecond)
	switch x := s.rng.Float64(); {
	case s.down(w.node, at) || x < s.cfg.Fail:
		c.outcome, c.err, c.applies = history.Fail, errNoServer, false
		c.returnAt = at + s.exp(100*time.Microsecond)
	case x < s.cfg.Fail+s.cfg.Info:
		c.outcome, c.err = history.Info, errTimeout
		c.applies = s.rng.IntN(2) == 0
		c.crashes = s.rng.Float64() < s.cfg.Crash
		c.returnAt += s.exp(5 * time.Millisecond)
	}
	if c.applies && c.inv.F != history.Read {
		s.schedule(c.effectAt, func() { s.effect(c) }, nil)
	}
	s.schedule(c.returnAt, func() { s.complete(c) }, c)
}

// effect applies a write or cas on the leader.
func (s *smallSim) effect(c *smallCall) {
	if s.down(c.w.node, c.effectAt) {
		return // it never left the killed node
	}
	if c.effectAt < s.electedAt && c.effectAt >= s.killAt {
		// No leader: the write waits for the election.
		c.effectAt = s.electedAt + s.exp(500*time.Microsecond)
		c.returnAt = max(c.returnAt, c.effectAt+s.lag[c.w.node]+s.exp(time.Millisecond))
		s.schedule(c.effectAt, func() { s.effect(c) }, nil)
		s.reschedule(c)
		return
	}
	log := s.logs[c.key]
	cur := log[len(log)-1]
	if c.inv.F == history.CAS && cur.version != *c.inv.Expect {
		c.applies = false
		if c.outcome == history.OK {
			c.outcome, c.err = history.Fail, errConflict
		}
		return
	}
	c.made = smallState{value: *c.inv.Value, version: cur.version + 1, zxid: s.nextZxid(), at: c.effectAt}
	if c.plant && !s.planted && c.outcome == history.OK {
		switch s.cfg.Anomaly {
		case LostWrite:
			s.planted = true
			return // acknowledged, never applied
		case DuplicateWrite:
			if s.duplicate == nil {
				s.duplicate = c
				c.plant = false
			}
		}
	}
	s.logs[c.key] = append(log, c.made)
	if d := s.duplicate; d != nil && d != c && d.key == c.key {
		again := smallState{value: d.made.value, version: c.made.version + 1, zxid: s.nextZxid(), at: c.effectAt}
		s.logs[c.key] = append(s.logs[c.key], again)
		s.duplicate, s.planted = nil, true
	}
}

// reschedule moves c's return event to c.returnAt.
func (s *smallSim) reschedule(c *smallCall) {
	for i, e := range s.events {
		if e.ret == c {
			s.events[i].at = c.returnAt
		}
	}
}

// view is the state of key k that node n serves at t.
func (s *smallSim) view(k, n int, t int64) smallState {
	log := s.logs[k]
	i := len(log) - 1
	for i > 0 && log[i].at > t-s.lag[n] {
		i--
	}
	return log[i]
}

// complete records the call's completion; the worker goes on, as a new
// process after an indeterminate call, with a new session after a timeout.
func (s *smallSim) complete(c *smallCall) {
	w := c.w
	done := c.inv
	done.Type, done.Error = c.outcome, c.err
	if c.outcome == history.OK {
		s.result(c, &done)
	}
	done.Time = c.returnAt
	if !c.crashes {
		s.record(done)
	}
	if done.Type == history.OK && done.Version != nil {
		w.seen[c.key] = *done.Version
	}
	switch {
	case c.crashes:
		return // the worker is gone
	case done.Type == history.Info:
		w.process = s.nextProc
		s.nextProc++
		if c.err == errTimeout {
			w.session = s.newSession(w.node)
		}
	}
	s.next(c.returnAt+s.exp(time.Millisecond), w)
}

// next schedules the worker's next call at t.
func (s *smallSim) next(t int64, w *smallWorker) {
	c := &smallCall{w: w}
	s.schedule(t, func() { s.invoke(t, c) }, nil)
}

// result fills in an ok completion: a write's Stat, or what a read saw.
// A quorum read is confirmed by a version check on the leader just before
// it returns, and fails if the version moved.
func (s *smallSim) result(c *smallCall, done *history.Op) {
	if c.inv.F != history.Read {
		done.Version, done.Zxid = history.Int32(c.made.version), c.made.zxid
		return
	}
	at := c.effectAt
	seen := s.view(c.key, c.w.node, at)
	if s.cfg.ReadMode == "sync" {
		seen = s.view(c.key, s.leader, at) // sync brought the node up to date
	}
	log := s.logs[c.key]
	plant := c.plant && !s.planted
	switch {
	case plant && s.cfg.Anomaly == StaleRead && seen.version > 0:
		seen = log[seen.version-1]
	case plant && s.cfg.Anomaly == Phantom:
		seen.value = s.values[c.key] + 1000
	default:
		plant = false
	}
	// A planted read passes the quorum's check: the server misbehaves.
	s.planted = s.planted || plant
	if s.cfg.ReadMode == "quorum" && !plant {
		if log[len(log)-1].version != seen.version {
			done.Type, done.Error = history.Fail, errNotQuorum
			return
		}
	}
	done.Value, done.Version, done.Zxid = history.Int64(seen.value), history.Int32(seen.version), seen.zxid
}

// finalReads records the harness's final quorum reads, a fresh session on
// every node, and then each node's snapshot.
func (s *smallSim) finalReads() {
	t := int64(0)
	for _, op := range s.ops {
		t = max(t, op.Time)
	}
	for n := range 3 {
		p, session := s.nextProc, s.newSession(n)
		s.nextProc++
		for k := range s.logs {
			last := s.logs[k][len(s.logs[k])-1]
			inv := history.Op{Type: history.Invoke, F: history.Read, Process: p, Key: "k" + strconv.Itoa(k), Node: node(n), Session: session}
			t += s.exp(time.Millisecond)
			inv.Time = t
			s.record(inv)
			done := inv
			t += s.exp(time.Millisecond)
			done.Type, done.Time = history.OK, t
			done.Value, done.Version, done.Zxid = history.Int64(last.value), history.Int32(last.version), last.zxid
			s.record(done)
		}
	}
	for n := range 3 {
		snap := map[string]string{"/zkchaos-register": "v0:" + dataHash(0)}
		for k, log := range s.logs {
			last := log[len(log)-1]
			snap["/zkchaos-register/k"+strconv.Itoa(k)] = fmt.Sprintf("v%d:%s", last.version, dataHash(last.value))
		}
		t += s.exp(time.Millisecond)
		s.record(history.Op{Type: history.Info, F: history.FSnapshot, Process: history.NemesisProcess, Time: t, Node: node(n),
			Snapshot: snap, Metrics: map[string]int64{"zk_digest_mismatches_count": 0}})
	}
}

// dataHash is how a snapshot spells a znode's data: the first twelve hex
// digits of its SHA-256.
func dataHash(v int64) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(v, 10)))
	return hex.EncodeToString(sum[:])[:12]
}

// okWrites returns the indexes of the acknowledged writes and cas of one
// key, the first key that has at least n of them after the planted point.
func (s *smallSim) okWrites(n int) []int {
	byKey := map[string][]int{}
	for i, op := range s.ops {
		if op.Type == history.OK && (op.F == history.Write || op.F == history.CAS) && op.Process != history.NemesisProcess {
			byKey[op.Key] = append(byKey[op.Key], i)
		}
	}
	for k := range s.cfg.Keys {
		if ids := byKey["k"+strconv.Itoa(k)]; len(ids) >= n {
			return ids
		}
	}
	return nil
}

// reorder swaps the versions and zxids two acknowledged writes reported.
func (s *smallSim) reorder() {
	ids := s.okWrites(2)
	if ids == nil {
		return
	}
	i := s.rng.IntN(len(ids) - 1)
	a, b := &s.ops[ids[i]], &s.ops[ids[i+1+s.rng.IntN(len(ids)-i-1)]]
	a.Version, b.Version = b.Version, a.Version
	a.Zxid, b.Zxid = b.Zxid, a.Zxid
	s.planted = true
}

// wrongVersion makes one acknowledged write report one version too many.
func (s *smallSim) wrongVersion() {
	ids := s.okWrites(1)
	if ids == nil {
		return
	}
	op := &s.ops[ids[s.rng.IntN(len(ids))]]
	op.Version = history.Int32(*op.Version + 1)
	s.planted = true
}
