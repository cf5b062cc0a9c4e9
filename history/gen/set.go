package gen

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Records of the set workload, as workloads/set writes them (spelled out:
// gen depends on no workload or checker).
const (
	setAddF          = "add"
	setRoot          = "/zkchaos-set"
	setPlainPrefix   = setRoot + "/e"
	setSequentialDir = setRoot + "/s-"
)

// Errors the simulated clients record.
const ()

// Anomalies SetHistory can plant in the final reads or the adds' names.
const (
	// SetLost drops an acknowledged element from a final read and every
	// later one.
	SetLost Anomaly = "set-lost"
	// SetPhantom lists in a final read an element never added, or one
	// whose add certainly failed.
	SetPhantom Anomaly = "set-phantom"
	// SetDuplicate lists an element twice in a final read: a create
	// applied twice.
	SetDuplicate Anomaly = "set-duplicate"
	// SetDiverged drops an element from one final read only: the nodes
	// disagree.
	SetDiverged Anomaly = "set-diverged"
	// SetSequence swaps the names of two acknowledged sequential creates,
	// or gives two the same name.
	SetSequence Anomaly = "set-sequence"
)

// SetAnomalies lists the anomalies SetHistory plants.
var SetAnomalies = []Anomaly{SetLost, SetPhantom, SetDuplicate, SetDiverged, SetSequence}

// ClientConfig shapes a small history of simulated clients: workers pinned
// to the nodes of a three-node ensemble, one call at a time each, with
// overlapping calls, failures, indeterminate outcomes whose effect may come
// late (even between the final reads), and processes that crash with a call
// in flight. Zero fields take the defaults noted.
type ClientConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Calls is the number of worker calls. Default 8.
	Calls int
	// Workers is the number of concurrent workers. Default 3.
	Workers int
	// Info and Fail are the shares of calls that end indeterminate or
	// failed. Defaults 0.15 and 0.1.
	Info, Fail float64
	// Crash is the share of indeterminate calls whose process dies with no
	// completion; its worker stops. Default 0.3.
	Crash float64
	// Unread is the chance that one node's final read never succeeds.
	// Default 0.05.
	Unread float64
	// Reads is the share of worker calls that are synced reads of the
	// whole collection, as the final reads are: the workloads read only at
	// the end, but the checkers judge every ok read, and reads amid the
	// writes test their rules of real time. Default 0.
	Reads float64
	// Anomalies are the violations to plant, in order.
	Anomalies []Anomaly
}

func (c *ClientConfig) defaults() {
	setDefault(&c.Calls, 8)
	setDefault(&c.Workers, 3)
	setDefault(&c.Info, 0.15)
	setDefault(&c.Fail, 0.1)
	setDefault(&c.Crash, 0.3)
	setDefault(&c.Unread, 0.05)
}

// simCall is one simulated call: its invocation, its completion (filled in
// when its effect point comes), and what the simulation decided about it.
type simCall struct {
	inv, done history.Op
	// effect is the moment the server applies the call (or would have).
	effect int64
	// applies says whether an indeterminate call took effect.
	applies bool
	// crashed calls have no completion record.
	crashed bool
	// run applies the call to the model at its effect point and fills in
	// done.
	run func(c *simCall)
}

func (c *simCall) ok() bool { return !c.crashed && c.done.Type == history.OK }

// clientSim runs simulated clients against a model server.
type clientSim struct {
	cfg ClientConfig
	// root is the znode a read lists, and read fills in an ok read's
	// result at its effect point.
	root     string
	read     func(c *simCall)
	rng      *rand.Rand
	calls    []*simCall
	nextProc history.Process
	// end is when the workers stopped: every call has ended but the
	// indeterminate ones.
	end int64
}

func newClientSim(cfg ClientConfig, root string, read func(c *simCall)) *clientSim {
	cfg.defaults()
	return &clientSim{cfg: cfg, root: root, read: read, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5e7)), nextProc: history.Process(cfg.Workers)}
}

// readCall makes c a read of the whole collection.
func (s *clientSim) readCall(c *simCall) {
	c.inv.F, c.inv.Path = history.Read, s.root
	c.done.F, c.done.Path = history.Read, s.root
	c.run = func(c *simCall) {
		if planned(c) {
			s.read(c)
		}
	}
}

func ms(n float64) int64 { return int64(n * float64(time.Millisecond)) }

// newProcess hands out a process that has not run yet.
func (s *clientSim) newProcess() history.Process {
	p := s.nextProc
	s.nextProc++
	return p
}

// call records a call of process p on node at inv, ending at ret, taking
// effect in between.
func (s *clientSim) call(p history.Process, node string, f string, inv, ret int64) *simCall {
	c := &simCall{
		inv:     history.Op{Type: history.Invoke, F: f, Process: p, Time: inv, Node: node, Session: 0x1000 + int64(p)},
		effect:  inv + 1 + s.rng.Int64N(ret-inv-1),
		applies: true,
	}
	c.done = c.inv
	c.done.Type, c.done.Time = history.OK, ret
	s.calls = append(s.calls, c)
	return c
}

// workers plans the worker calls: who calls when, and how each ends.
// invoke fills in what each call but the reads asks, in invocation order.
func (s *clientSim) workers(invoke func(c *simCall)) {
	type worker struct {
		p    history.Process
		node string
		at   int64
		dead bool
	}
	ws := make([]*worker, s.cfg.Workers)
	for i := range ws {
		ws[i] = &worker{p: history.Process(i), node: node(i % 3), at: ms(s.rng.Float64() * 3)}
	}
	var planned []*simCall
	for range s.cfg.Calls {
		w := ws[s.rng.IntN(len(ws))]
		if w.dead {
			continue
		}
		inv := w.at
		ret := inv + ms(0.2+s.rng.ExpFloat64()*4)
		c := s.call(w.p, w.node, "", inv, ret)
		switch r := s.rng.Float64(); {
		case r < s.cfg.Info:
			c.done.Type, c.applies = history.Info, s.rng.IntN(2) == 0
			c.done.Error = []string{errClosed, errTimeout}[s.rng.IntN(2)]
			if c.applies && s.rng.IntN(3) == 0 {
				c.effect += ms(s.rng.Float64() * 30) // late: even during the final reads
			}
			c.crashed = s.rng.Float64() < s.cfg.Crash
			w.dead = c.crashed
			w.p = s.newProcess()
		case r < s.cfg.Info+s.cfg.Fail:
			c.done.Type, c.applies = history.Fail, false
			c.done.Error = errNoServer
		}
		w.at = ret + ms(s.rng.ExpFloat64())
		s.end = max(s.end, ret)
		planned = append(planned, c)
	}
	slices.SortStableFunc(planned, func(a, b *simCall) int { return cmp.Compare(a.inv.Time, b.inv.Time) })
	for _, c := range planned {
		if s.rng.Float64() < s.cfg.Reads {
			s.readCall(c)
			continue
		}
		invoke(c)
	}
}

// finalReads plans one read of every node, one after another from at, each
// by a fresh process; with probability Unread one node's read fails every
// time. It returns when they end.
func (s *clientSim) finalReads(at int64) int64 {
	unread := -1
	if s.rng.Float64() < s.cfg.Unread {
		unread = s.rng.IntN(3)
	}
	for i := range 3 {
		c := s.call(s.newProcess(), node(i), "", at, at+ms(1))
		s.readCall(c)
		if i == unread {
			c.done.Type, c.done.Error = history.Info, errClosed
		}
		at += ms(2)
	}
	return at
}

// apply runs every call's effect in the order of the effect points.
func (s *clientSim) apply() {
	byEffect := slices.Clone(s.calls)
	slices.SortStableFunc(byEffect, func(a, b *simCall) int { return cmp.Compare(a.effect, b.effect) })
	for _, c := range byEffect {
		if c.run != nil {
			c.run(c)
		}
	}
}

// records writes the history: the role monitor's view, a leader kill
// while the workers run, and every call's invocation and completion.
func (s *clientSim) records() []history.Op {
	var ops []history.Op
	roles := func(at int64, down string) {
		r := map[string]string{"n1": "leader", "n2": "follower", "n3": "follower"}
		if down != "" {
			r[down] = "down"
		}
		ops = append(ops, history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: at, Roles: r})
	}
	nemesis := func(f string, at int64) {
		fault := &history.Fault{Name: "kill-follower", Targets: []string{"n3"}}
		for _, t := range []history.Type{history.Invoke, history.OK} {
			ops = append(ops, history.Op{Type: t, F: f, Process: history.NemesisProcess, Time: at, Fault: fault})
		}
	}
	roles(0, "")
	nemesis("kill", s.end/3)
	roles(s.end/3, "n3")
	nemesis("start", 2*s.end/3)
	roles(2*s.end/3, "")
	for _, c := range s.calls {
		ops = append(ops, c.inv)
		if !c.crashed {
			ops = append(ops, c.done)
		}
	}
	slices.SortStableFunc(ops, func(a, b history.Op) int { return cmp.Compare(a.Time, b.Time) })
	for i := range ops {
		ops[i].Index = int64(i)
	}
	return ops
}

// planned reports whether the call is to end ok.
func planned(c *simCall) bool { return c.done.Type == history.OK }

// setModel is the set's root znode: its children and their counters.
type setModel struct {
	elems    []int64 // plain and sequential children's elements, by creation
	cversion int64
	zxid     int64
	pzxid    int64
}

// create makes a child; it returns the sequential name when asked for one.
func (m *setModel) create(prefix string) string {
	m.zxid++
	m.pzxid = m.zxid
	name := fmt.Sprintf("%s%010d", prefix, m.cversion)
	m.cversion++
	return name
}

// SetHistory generates a set workload history: unique elements added by
// plain or sequential creates, then a synced final read of every node.
// Without an anomaly it is valid; an anomaly is planted when the history
// offers what it needs (the second result says whether all were).
func SetHistory(cfg ClientConfig) ([]history.Op, bool) {
	m := &setModel{}
	s := newClientSim(cfg, setRoot, func(c *simCall) {
		c.done.Values, c.done.Zxid = slices.Clone(m.elems), m.pzxid
	})
	var next int64
	s.workers(func(c *simCall) {
		next++
		c.inv.F, c.inv.Value = setAddF, history.Int64(next)
		c.inv.Path = fmt.Sprintf("%s%d", setPlainPrefix, next)
		sequential := s.rng.IntN(2) == 0
		if sequential {
			c.inv.Path = setSequentialDir
		}
		c.done.F, c.done.Value, c.done.Path = c.inv.F, c.inv.Value, c.inv.Path
		c.run = func(c *simCall) {
			if !c.applies {
				return
			}
			name := m.create(setSequentialDir)
			if !sequential {
				name = c.inv.Path
			}
			m.elems = append(m.elems, *c.inv.Value)
			if planned(c) {
				c.done.Path = name
			}
		}
	})
	s.finalReads(s.end + ms(5))
	s.apply()
	planted := s.plant(s.plantSet)
	return s.records(), planted
}

// plant plants every anomaly asked for with the family's planter and
// reports whether all were planted.
func (s *clientSim) plant(planter func(Anomaly) bool) bool {
	all := true
	for _, a := range s.cfg.Anomalies {
		all = planter(a) && all
	}
	return all
}

// okCalls returns the ok calls of f, in invocation order.
func (s *clientSim) okCalls(f string) []*simCall {
	var out []*simCall
	for _, c := range s.calls {
		if c.inv.F == f && c.ok() {
			out = append(out, c)
		}
	}
	return out
}

// pick returns a random element of xs.
func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// otherElement is an element no call ever asked about.
const otherElement = 1_000_000

func (s *clientSim) plantSet(a Anomaly) bool {
	reads := s.okCalls(history.Read)
	if len(reads) == 0 {
		return false
	}
	i := s.rng.IntN(len(reads))
	r := reads[i]
	switch a {
	case SetLost:
		adds := s.okCalls(setAddF)
		if len(adds) == 0 {
			return false
		}
		e := *pick(s.rng, adds).inv.Value
		for _, r := range reads[i:] {
			r.done.Values = slices.DeleteFunc(slices.Clone(r.done.Values), func(v int64) bool { return v == e })
		}
	case SetPhantom:
		e := int64(otherElement)
		for _, c := range s.calls {
			if c.inv.F == setAddF && c.done.Type == history.Fail && s.rng.IntN(2) == 0 {
				e = *c.inv.Value
			}
		}
		r.done.Values = append(r.done.Values, e)
	case SetDuplicate:
		if len(r.done.Values) == 0 {
			return false
		}
		r.done.Values = append(r.done.Values, pick(s.rng, r.done.Values))
	case SetDiverged:
		return dropOne(s.rng, r)
	case SetSequence:
		return swapNames(s.rng, s.okCalls(setAddF), setSequentialDir)
	}
	return true
}

// dropOne removes one element from the read.
func dropOne(rng *rand.Rand, r *simCall) bool {
	if len(r.done.Values) == 0 {
		return false
	}
	i := rng.IntN(len(r.done.Values))
	r.done.Values = slices.Delete(slices.Clone(r.done.Values), i, i+1)
	return true
}

// swapNames swaps the names of two acknowledged sequential creates, one
// ended before the other began when there are such, or else gives the
// second the first's name.
func swapNames(rng *rand.Rand, creates []*simCall, prefix string) bool {
	var seq []*simCall
	for _, c := range creates {
		if c.inv.Path == prefix {
			seq = append(seq, c)
		}
	}
	if len(seq) < 2 {
		return false
	}
	for _, a := range seq {
		for _, b := range seq {
			if a.done.Time < b.inv.Time && rng.IntN(2) == 0 {
				a.done.Path, b.done.Path = b.done.Path, a.done.Path
				return true
			}
		}
	}
	seq[1].done.Path = seq[0].done.Path
	return true
}
