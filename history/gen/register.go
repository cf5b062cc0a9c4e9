// Package gen generates synthetic histories of the register workload, seeded
// and realistic: many processes with overlapping calls, indeterminate and
// failed operations, crashed processes, fault windows that slow the service
// down, and, on request, one planted anomaly. Checkers are measured and
// tested on them at sizes no real run reaches quickly.
//
// The histories come from a simulated linearizable register per key with
// ZooKeeper's data versions and zxids, so without an anomaly they are valid.
package gen

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Anomaly names a planted violation of linearizability.
type Anomaly string

// The anomalies Register can plant (and Jepsen: StaleRead and DoubleCAS),
// once, on the first key, after half of the calls.
const (
	// None plants nothing: the history is linearizable.
	None Anomaly = ""
	// StaleRead makes one read return the state before a write that had
	// completed before the read was invoked.
	StaleRead Anomaly = "stale-read"
	// LostWrite acknowledges one write (ok, with its new version) without
	// applying it.
	LostWrite Anomaly = "lost-write"
	// DuplicateWrite applies one write a second time, after the next write
	// to its key.
	DuplicateWrite Anomaly = "duplicate-write"
	// DoubleCAS lets two concurrent cas from the same value both succeed
	// (Jepsen histories only).
	DoubleCAS Anomaly = "double-cas"
)

// Anomalies lists the anomalies that plant something.
var Anomalies = []Anomaly{StaleRead, LostWrite, DuplicateWrite}

// Config shapes a generated history. Zero fields take the defaults noted.
type Config struct {
	// Seed fixes the history: the same Config gives the same records.
	Seed uint64
	// Calls is the number of client calls (each an invoke and, unless its
	// process crashed, a completion). Default 10,000.
	Calls int
	// Keys is the number of registers. Default 20.
	Keys int
	// Processes is the number of concurrent workers. Default 50.
	Processes int
	// Reads and CAS are the shares of reads and cas among calls; the rest
	// are writes. Defaults 0.5 and 0.25.
	Reads, CAS float64
	// Info and Fail are the shares of calls that end indeterminate or
	// failed outside fault windows; inside them both are ten times as
	// likely. Defaults 0.005 and 0.005.
	Info, Fail float64
	// Crash is the share of indeterminate calls whose process dies with no
	// completion record at all. Default 0.2.
	Crash float64
	// Latency is the mean time from a call to its effect and from its
	// effect to its return; fault windows multiply it by five. Default 1 ms.
	Latency time.Duration
	// FaultEvery and FaultFor place kill/start nemesis windows. Defaults
	// 5 s and 2 s; a negative FaultEvery places none.
	FaultEvery, FaultFor time.Duration
	// Anomaly is the violation to plant, if any.
	Anomaly Anomaly
}

func (c *Config) defaults() {
	setDefault(&c.Calls, 10_000)
	setDefault(&c.Keys, 20)
	setDefault(&c.Processes, 50)
	setDefault(&c.Reads, 0.5)
	setDefault(&c.CAS, 0.25)
	setDefault(&c.Info, 0.005)
	setDefault(&c.Fail, 0.005)
	setDefault(&c.Crash, 0.2)
	setDefault(&c.Latency, time.Millisecond)
	setDefault(&c.FaultEvery, 5*time.Second)
	setDefault(&c.FaultFor, 2*time.Second)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Key returns the name of register i, as the register workload names them.
func Key(i int) string { return fmt.Sprintf("r%d", i) }

// state is a register's value and version, and the zxid that set them.
type state struct {
	value   int64
	version int32
	zxid    int64
	// setDone is when the write that set this state returned.
	setDone int64
}

// call is one call in flight.
type call struct {
	process  history.Process
	f        string
	key      int
	value    int64 // written
	expect   int32 // cas
	outcome  history.Type
	applies  bool // an info call that takes effect
	crashes  bool // no completion record
	invokeAt int64
	effectAt int64
	returnAt int64
	result   state // what the effect left: read, or made by a write
}

// event is a point in simulated time: a call's invocation, effect or return.
type event struct {
	at   int64
	seq  int64 // ties broken by creation order, so runs are reproducible
	kind int
	c    *call
}

const (
	evInvoke = iota
	evEffect
	evReturn
)

// events is a min-heap of events by time, for container/heap.
type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	return e[i].at < e[j].at || (e[i].at == e[j].at && e[i].seq < e[j].seq)
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// sim is the state of one generation.
type sim struct {
	cfg      Config
	rng      *rand.Rand
	ops      []history.Op
	queue    events
	seq      int64
	regs     []state
	prev     []state // the state before the current one, per key
	zxid     int64
	nextVal  int64
	nextProc history.Process
	issued   int
	// nemesis schedule: the next kill, and the start owed to the last one
	nextKill, startAt int64
	leader            int // index of the leading node, 0..2
	killed            string
	// planted anomaly bookkeeping
	armed     bool
	planted   bool
	duplicate *call // a write to apply again after the next write to its key
}

// Register generates a register history.
func Register(cfg Config) []history.Op {
	cfg.defaults()
	s := &sim{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		ops:      make([]history.Op, 0, 2*cfg.Calls+64),
		regs:     make([]state, cfg.Keys),
		prev:     make([]state, cfg.Keys),
		nextProc: history.Process(cfg.Processes),
		nextKill: int64(cfg.FaultEvery),
		startAt:  -1,
	}
	s.roles()
	for w := range cfg.Processes {
		s.schedule(s.exp(cfg.Latency), evInvoke, &call{process: history.Process(w)})
	}
	for s.queue.Len() > 0 {
		ev := heap.Pop(&s.queue).(event)
		s.nemesisUntil(ev.at)
		switch ev.kind {
		case evInvoke:
			s.invoke(ev.at, ev.c)
		case evEffect:
			s.effect(ev.c)
		case evReturn:
			s.complete(ev.c)
		}
	}
	return s.ops
}

func (s *sim) schedule(at int64, kind int, c *call) {
	s.seq++
	heap.Push(&s.queue, event{at: at, seq: s.seq, kind: kind, c: c})
}

// record appends op with the next index; times never go backwards.
func (s *sim) record(op history.Op) {
	op.Index = int64(len(s.ops))
	if n := len(s.ops); n > 0 {
		op.Time = max(op.Time, s.ops[n-1].Time)
	}
	s.ops = append(s.ops, op)
}

// exp draws an exponential duration with the given mean, at least 1 µs.
func (s *sim) exp(mean time.Duration) int64 {
	return max(int64(s.rng.ExpFloat64()*float64(mean)), int64(time.Microsecond))
}

// inFault reports whether a kill is in effect at t.
func (s *sim) inFault(t int64) bool { return s.startAt >= 0 && t < s.startAt }

// node names node i.
func node(i int) string { return fmt.Sprintf("n%d", i+1) }

// roles records the role monitor's view.
func (s *sim) roles() {
	r := map[string]string{"n1": "follower", "n2": "follower", "n3": "follower"}
	r[node(s.leader)] = "leader"
	if s.killed != "" {
		r[s.killed] = "down"
	}
	s.record(history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: s.now(), Roles: r})
}

func (s *sim) now() int64 {
	if n := len(s.ops); n > 0 {
		return s.ops[n-1].Time
	}
	return 0
}

// nemesisUntil records the kills and starts due by t, while calls are still
// being issued: kill-leader every FaultEvery, started again FaultFor later.
func (s *sim) nemesisUntil(t int64) {
	if s.cfg.FaultEvery <= 0 {
		return
	}
	for {
		switch {
		case s.startAt >= 0 && s.startAt <= t:
			f := &history.Fault{Name: "kill-leader", Targets: []string{s.killed}}
			s.record(history.Op{Type: history.Invoke, F: "start", Process: history.NemesisProcess, Time: s.startAt, Fault: f})
			s.record(history.Op{Type: history.OK, F: "start", Process: history.NemesisProcess, Time: s.startAt + int64(time.Millisecond), Fault: f})
			s.startAt, s.killed = -1, ""
			s.roles()
		case s.startAt < 0 && s.nextKill <= t && s.issued < s.cfg.Calls:
			f := &history.Fault{Name: "kill-leader", Targets: []string{node(s.leader)}}
			s.record(history.Op{Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Time: s.nextKill, Fault: f})
			s.record(history.Op{Type: history.OK, F: "kill", Process: history.NemesisProcess, Time: s.nextKill + int64(time.Millisecond), Fault: f})
			s.killed, s.startAt = node(s.leader), s.nextKill+int64(s.cfg.FaultFor)
			s.nextKill += int64(s.cfg.FaultEvery)
			s.leader = (s.leader + 1) % 3
			s.roles()
		default:
			return
		}
	}
}

// invoke issues the worker's next call, or retires the worker when all
// calls are issued.
func (s *sim) invoke(at int64, c *call) {
	if s.issued == s.cfg.Calls {
		return
	}
	s.issued++
	if !s.armed && s.cfg.Anomaly != None && s.issued >= s.cfg.Calls/2 {
		s.armed = true
	}
	c.key = s.rng.IntN(s.cfg.Keys)
	switch r := s.rng.Float64(); {
	case r < s.cfg.Reads:
		c.f = history.Read
	case r < s.cfg.Reads+s.cfg.CAS:
		c.f = history.CAS
		// Usually the version the register has now; sometimes an older
		// one, as a worker that read a while ago would expect.
		c.expect = s.regs[c.key].version - int32(s.rng.IntN(2))
	default:
		c.f = history.Write
	}
	if c.f != history.Read {
		s.nextVal++
		c.value = s.nextVal
	}
	latency, info, fail := s.cfg.Latency, s.cfg.Info, s.cfg.Fail
	if s.inFault(at) {
		latency, info, fail = 5*latency, 10*info, 10*fail
	}
	c.outcome, c.applies, c.crashes = history.OK, true, false
	switch r := s.rng.Float64(); {
	case r < info:
		c.outcome = history.Info
		c.applies = s.rng.IntN(2) == 0
		c.crashes = s.rng.Float64() < s.cfg.Crash
	case r < info+fail:
		c.outcome, c.applies = history.Fail, false
	}
	c.invokeAt = at
	c.effectAt = at + s.exp(latency)
	c.returnAt = c.effectAt + s.exp(latency)
	inv := history.Op{Type: history.Invoke, F: c.f, Process: c.process, Time: at, Key: Key(c.key)}
	if c.f != history.Read {
		inv.Value = history.Int64(c.value)
	}
	if c.f == history.CAS {
		inv.Expect = history.Int32(c.expect)
	}
	s.record(inv)
	s.schedule(c.effectAt, evEffect, c)
	s.schedule(c.returnAt, evReturn, c)
}

// effect applies the call to its register at its linearization point.
func (s *sim) effect(c *call) {
	k := c.key
	cur := s.regs[k]
	switch c.f {
	case history.Read:
		c.result = cur
		if s.armed && !s.planted && s.cfg.Anomaly == StaleRead && k == 0 && cur.version > 0 && cur.setDone < c.invokeAt {
			c.result = s.prev[k]
			s.planted = true
		}
		return
	case history.CAS:
		if cur.version != c.expect {
			if c.outcome == history.OK {
				c.outcome = history.Fail // a version conflict
			}
			return
		}
	}
	if !c.applies {
		return
	}
	next := state{value: c.value, version: cur.version + 1, zxid: s.nextZxid(), setDone: c.returnAt}
	c.result = next
	if s.armed && !s.planted && k == 0 && c.outcome == history.OK {
		switch s.cfg.Anomaly {
		case LostWrite:
			s.planted = true
			return // acknowledged with next, never applied
		case DuplicateWrite:
			if s.duplicate == nil {
				s.duplicate = c
			}
		}
	}
	s.prev[k], s.regs[k] = cur, next
	if d := s.duplicate; d != nil && d != c && d.key == k {
		// The earlier write is applied again, after this one.
		s.prev[k], s.regs[k] = s.regs[k], state{value: d.value, version: s.regs[k].version + 1, zxid: s.nextZxid(), setDone: c.returnAt}
		s.duplicate, s.planted = nil, true
	}
}

func (s *sim) nextZxid() int64 {
	s.zxid++
	return s.zxid
}

// complete records the call's completion and schedules the worker's next
// call; after an indeterminate one the worker continues as a new process.
func (s *sim) complete(c *call) {
	if !c.crashes {
		op := history.Op{Type: c.outcome, F: c.f, Process: c.process, Time: c.returnAt, Key: Key(c.key)}
		switch {
		case c.outcome == history.OK && c.f == history.Read:
			op.Value, op.Version, op.Zxid = history.Int64(c.result.value), history.Int32(c.result.version), c.result.zxid
		case c.outcome == history.OK:
			op.Value, op.Version, op.Zxid = history.Int64(c.value), history.Int32(c.result.version), c.result.zxid
		case c.outcome == history.Fail && c.f == history.CAS && c.applies:
			op.Error = "zk: version conflict"
		case c.outcome == history.Fail:
			op.Error = "zk: could not connect to a server"
		default:
			op.Error = "zk: connection closed"
		}
		if c.f == history.CAS {
			op.Expect = history.Int32(c.expect)
		}
		s.record(op)
	}
	next := &call{process: c.process}
	if c.outcome == history.Info {
		next.process = s.nextProc
		s.nextProc++
	}
	s.schedule(c.returnAt+s.exp(s.cfg.Latency), evInvoke, next)
}
