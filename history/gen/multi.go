package gen

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/history"
)

// Record names and errors of the multi and watch workloads, spelled out so
// that this package imports nothing of the checkers it feeds.
const (
	fTxn           = "txn"
	errUnconfirmed = "snapshot not confirmed by the quorum: " + errConflict
	firstSessionID = 0x1000000000000
	zxidEpoch      = int64(1) << 32
	simulatedNodes = 3
)

// MultiAnomaly names a violation Multi can plant.
type MultiAnomaly string

// The anomalies Multi plants, once, after half of the calls.
const (
	// TornTxn makes one confirmed snapshot show a transaction of several
	// keys at one key and the state before it at another.
	TornTxn MultiAnomaly = "torn-transaction"
	// LostTxn acknowledges one transaction (ok, with its zxid) without
	// applying it.
	LostTxn MultiAnomaly = "lost-transaction"
	// ReorderedTxns applies an acknowledged transaction again after a
	// later one that shares a key with it, so the older write wins.
	ReorderedTxns MultiAnomaly = "reordered-transactions"
	// FailedTxnApplied applies a transaction that reports failure.
	FailedTxnApplied MultiAnomaly = "failed-transaction-applied"
)

// MultiAnomalies lists the anomalies Multi can plant.
var MultiAnomalies = []MultiAnomaly{TornTxn, LostTxn, ReorderedTxns, FailedTxnApplied}

// MultiConfig shapes a generated multi-workload history. Zero fields take
// the defaults noted.
type MultiConfig struct {
	// Seed fixes the history.
	Seed uint64
	// Calls is the number of transactions and snapshots (half each, on
	// average), before one final snapshot per node. Default 16.
	Calls int
	// Keys is the number of znodes; at least 2. Default 3.
	Keys int
	// Processes is the number of concurrent workers. Default 3.
	Processes int
	// Info is the share of calls that end indeterminate (half of those
	// transactions take effect, possibly after the completion); Fail the
	// share that fail without effect. Defaults 0.1 and 0.05.
	Info, Fail float64
	// Crash is the share of indeterminate calls whose process records no
	// completion at all. Default 0.3.
	Crash float64
	// Lag is how many commits a follower's plain reads may lag behind,
	// which makes snapshots fail their confirmation. Default 2.
	Lag int
	// Anomaly is the violation to plant, if any.
	Anomaly MultiAnomaly
}

func (c *MultiConfig) defaults() {
	setDefault(&c.Calls, 16)
	setDefault(&c.Keys, 3)
	c.Keys = max(c.Keys, 2)
	setDefault(&c.Processes, 3)
	setDefault(&c.Info, 0.1)
	setDefault(&c.Fail, 0.05)
	setDefault(&c.Crash, 0.3)
	setDefault(&c.Lag, 2)
}

// agenda runs actions in simulated time order, ties in the order they were
// scheduled: histories are small, so a scan finds the next one.
type agenda struct {
	tasks []task
	seq   int64
}

type task struct {
	at, seq int64
	run     func(at int64)
}

func (a *agenda) schedule(at int64, run func(at int64)) {
	a.seq++
	a.tasks = append(a.tasks, task{at: at, seq: a.seq, run: run})
}

// drain runs every task, including those the tasks schedule.
func (a *agenda) drain() {
	for len(a.tasks) > 0 {
		next := 0
		for i, t := range a.tasks {
			if t.at < a.tasks[next].at || (t.at == a.tasks[next].at && t.seq < a.tasks[next].seq) {
				next = i
			}
		}
		t := a.tasks[next]
		a.tasks = append(a.tasks[:next], a.tasks[next+1:]...)
		t.run(t.at)
	}
}

// tape is a history being written: indexes in order, times never back.
type tape struct{ ops []history.Op }

func (tp *tape) add(op history.Op) {
	op.Index = int64(len(tp.ops))
	if n := len(tp.ops); n > 0 {
		op.Time = max(op.Time, tp.ops[n-1].Time)
	}
	tp.ops = append(tp.ops, op)
}

// worker is a simulated client: its process, the node its session is
// pinned to, and the session.
type worker struct {
	process history.Process
	node    string
	session int64
}

// clientPool hands out processes and sessions as the workload's clients
// take them: a fresh process after every indeterminate call.
type clientPool struct {
	nextProc    history.Process
	nextSession int64
}

func (p *clientPool) process() history.Process {
	p.nextProc++
	return p.nextProc - 1
}

func (p *clientPool) session() int64 {
	p.nextSession++
	return firstSessionID + p.nextSession
}

// outcome draws how a call ends: ok, fail (certainly without effect) or
// info, and for info whether the process crashed before recording it.
func outcome(rng *rand.Rand, info, fail, crash float64) (history.Type, bool) {
	switch r := rng.Float64(); {
	case r < info:
		return history.Info, rng.Float64() < crash
	case r < info+fail:
		return history.Fail, false
	}
	return history.OK, false
}

// expNs draws an exponential duration with the given mean, at least 1 µs.
func expNs(rng *rand.Rand, mean time.Duration) int64 {
	return max(int64(rng.ExpFloat64()*float64(mean)), int64(time.Microsecond))
}

// mtCell is a znode of the multi model.
type mtCell struct {
	value   int64
	version int32
	mzxid   int64
	by      int // transaction that wrote it, -1 for the initial value
}

type mtTxnSim struct {
	keys      []int
	values    []int64
	checks    map[int]int32
	invokeAt  int64
	returnAt  int64
	zxid      int64
	applied   bool
	completed bool
}

type multiSim struct {
	cfg     MultiConfig
	rng     *rand.Rand
	ag      agenda
	tp      tape
	pool    clientPool
	state   []mtCell
	log     [][]mtCell // the state after each commit, log[0] the initial one
	txns    []*mtTxnSim
	zxid    int64
	nextVal int64
	issued  int
	planted bool
}

// Multi returns a history of the multi workload: workers that set two or
// three keys in one multi (each key's version checked half the time, when
// the worker saw one) or read every key and confirm the values with a
// check-only multi, then one confirmed snapshot per node. The model
// server is linearizable, so without an anomaly the history is valid.
func Multi(cfg MultiConfig) []history.Op {
	cfg.defaults()
	s := &multiSim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6d756c7469))}
	s.state = make([]mtCell, cfg.Keys)
	for k := range s.state {
		// The setup creates the root and then every key, one zxid each.
		s.state[k] = mtCell{mzxid: zxidEpoch + int64(2+k), by: -1}
	}
	s.zxid = zxidEpoch + int64(cfg.Keys+1)
	s.log = [][]mtCell{append([]mtCell(nil), s.state...)}
	for w := range cfg.Processes {
		wk := &worker{process: s.pool.process(), node: nodeName(w), session: s.pool.session()}
		seen := map[int]int32{}
		s.ag.schedule(expNs(s.rng, time.Millisecond), func(at int64) { s.step(at, wk, seen) })
	}
	s.ag.drain()
	end := s.tp.ops[len(s.tp.ops)-1].Time + int64(time.Second)
	for n := range simulatedNodes {
		wk := &worker{process: s.pool.process(), node: nodeName(n), session: s.pool.session()}
		inv := s.invoke(end, wk, history.Read, s.allKeys(), nil)
		done := inv
		done.Type, done.Time = history.OK, end+int64(time.Millisecond)
		done.Values, done.Zxids = s.view(s.state)
		s.tp.add(done)
		end = done.Time + int64(time.Millisecond)
	}
	return s.tp.ops
}

func nodeName(i int) string { return "n" + strconv.Itoa(i%simulatedNodes+1) }

func (s *multiSim) keyName(k int) string { return "k" + strconv.Itoa(k) }

func (s *multiSim) allKeys() []int {
	ks := make([]int, s.cfg.Keys)
	for k := range ks {
		ks[k] = k
	}
	return ks
}

func (s *multiSim) joined(ks []int) string {
	names := make([]string, len(ks))
	for p, k := range ks {
		names[p] = s.keyName(k)
	}
	return strings.Join(names, ",")
}

func (s *multiSim) invoke(at int64, wk *worker, f string, ks []int, values []int64) history.Op {
	op := history.Op{Type: history.Invoke, F: f, Process: wk.process, Time: at, Key: s.joined(ks),
		Values: values, Node: wk.node, Session: wk.session}
	s.tp.add(op)
	return op
}

// view is what a snapshot of state reports: values and zxids.
func (s *multiSim) view(state []mtCell) ([]int64, []int64) {
	values := make([]int64, len(state))
	zxids := make([]int64, len(state))
	for k, c := range state {
		values[k], zxids[k] = c.value, c.mzxid
	}
	return values, zxids
}

// step issues the worker's next call, unless every call was issued.
func (s *multiSim) step(at int64, wk *worker, seen map[int]int32) {
	if s.issued == s.cfg.Calls {
		return
	}
	s.issued++
	typ, crash := outcome(s.rng, s.cfg.Info, s.cfg.Fail, s.cfg.Crash)
	effectAt := at + expNs(s.rng, time.Millisecond)
	returnAt := effectAt + expNs(s.rng, time.Millisecond)
	finish := func(done history.Op) {
		if !crash {
			done.Time = returnAt
			s.tp.add(done)
		}
		if done.Type == history.Info {
			wk.process = s.pool.process()
		}
		s.ag.schedule(returnAt+expNs(s.rng, time.Millisecond), func(at int64) { s.step(at, wk, seen) })
	}
	if s.rng.IntN(2) == 0 {
		s.snapshot(at, effectAt, typ, wk, seen, finish)
		return
	}
	s.txn(at, effectAt, returnAt, typ, wk, seen, finish)
}

// snapshot reads every key from the worker's node, which may lag, and
// confirms the versions at effectAt.
func (s *multiSim) snapshot(at, effectAt int64, typ history.Type, wk *worker, seen map[int]int32, finish func(history.Op)) {
	inv := s.invoke(at, wk, history.Read, s.allKeys(), nil)
	s.ag.schedule(effectAt, func(int64) {
		done := inv
		done.Type = typ
		switch typ {
		case history.Info:
			done.Error = errClosed
		case history.Fail:
			done.Error = errNoServer
		default:
			read := s.log[max(0, len(s.log)-1-s.rng.IntN(s.cfg.Lag+1))]
			confirmed := true
			for k, c := range read {
				confirmed = confirmed && c.version == s.state[k].version
			}
			if !confirmed {
				done.Type, done.Error = history.Fail, errUnconfirmed
				break
			}
			done.Values, done.Zxids = s.view(read)
			s.tearSnapshot(&done)
			for k, c := range read {
				seen[k] = c.version
			}
		}
		finish(done)
	})
}

// tearSnapshot plants TornTxn: a key of a transaction the snapshot shows
// whole reads as it was before the transaction.
func (s *multiSim) tearSnapshot(done *history.Op) {
	if s.cfg.Anomaly != TornTxn || s.planted || s.issued < s.cfg.Calls/2 {
		return
	}
	for k, c := range s.state {
		if c.by < 0 || len(s.txns[c.by].keys) < 2 {
			continue
		}
		t := s.txns[c.by]
		other := t.keys[len(t.keys)-1]
		if other == k || s.state[other].by != c.by {
			continue
		}
		// The state of the other key before t: the last logged state in
		// which it was written by someone else.
		for i := len(s.log) - 1; i >= 0; i-- {
			if before := s.log[i][other]; before.by != c.by {
				done.Values[other], done.Zxids[other] = before.value, before.mzxid
				s.planted = true
				return
			}
		}
	}
}

// txn sets two or three keys to fresh values in one multi, guarded by
// version checks of some keys the worker saw.
func (s *multiSim) txn(at, effectAt, returnAt int64, typ history.Type, wk *worker, seen map[int]int32, finish func(history.Op)) {
	n := min(2+s.rng.IntN(2), s.cfg.Keys)
	ks := s.rng.Perm(s.cfg.Keys)[:n]
	slices.Sort(ks)
	t := &mtTxnSim{keys: ks, checks: map[int]int32{}, invokeAt: at, returnAt: returnAt}
	for _, k := range ks {
		s.nextVal++
		t.values = append(t.values, s.nextVal)
		if v, ok := seen[k]; ok && s.rng.IntN(2) == 0 {
			t.checks[k] = v
		}
	}
	id := len(s.txns)
	s.txns = append(s.txns, t)
	inv := s.invoke(at, wk, fTxn, ks, t.values)
	applies := typ == history.OK || (typ == history.Info && s.rng.IntN(2) == 0)
	if s.plant(FailedTxnApplied) {
		typ, applies = history.Fail, true // reports failure, takes effect
	}
	if typ == history.Info && applies && s.rng.IntN(2) == 0 {
		effectAt = returnAt + expNs(s.rng, 2*time.Millisecond) // lands after the completion
	}
	conflict := false
	s.ag.schedule(effectAt, func(int64) {
		for k, v := range t.checks {
			conflict = conflict || s.state[k].version != v
		}
		if applies && !conflict {
			s.commit(id)
		}
	})
	s.ag.schedule(returnAt, func(int64) {
		done := inv
		switch {
		case typ == history.Info:
			done.Type, done.Error = history.Info, errClosed
		case conflict:
			done.Type, done.Error = history.Fail, errConflict
		case typ == history.Fail:
			done.Type, done.Error = history.Fail, errNoServer
		default:
			done.Type = history.OK
			done.Zxids = make([]int64, len(ks))
			for p := range ks {
				done.Zxids[p] = t.zxid
			}
		}
		if done.Type == history.Fail {
			for _, k := range ks {
				delete(seen, k) // what was seen is stale
			}
		}
		t.completed = true
		finish(done)
	})
}

// plant reports whether anomaly a is to be planted now, and marks it
// planted.
func (s *multiSim) plant(a MultiAnomaly) bool {
	if s.cfg.Anomaly != a || s.planted || s.issued < s.cfg.Calls/2 {
		return false
	}
	s.planted = true
	return true
}

// commit applies transaction id at the next zxid.
func (s *multiSim) commit(id int) {
	t := s.txns[id]
	s.zxid++
	t.zxid = s.zxid
	if s.plant(LostTxn) {
		return // acknowledged, never applied
	}
	s.apply(id)
	if s.cfg.Anomaly != ReorderedTxns || s.planted || s.issued < s.cfg.Calls/2 {
		return
	}
	// An earlier transaction, acknowledged before this one began and
	// sharing a key, lands again on top of it.
	for e, old := range s.txns {
		if e == id || !old.applied || !old.completed || old.returnAt >= t.invokeAt || !sharesKey(old.keys, t.keys) {
			continue
		}
		s.planted = true
		s.apply(e)
		return
	}
}

// apply writes transaction id's values with its zxid.
func (s *multiSim) apply(id int) {
	t := s.txns[id]
	t.applied = true
	for p, k := range t.keys {
		s.state[k] = mtCell{value: t.values[p], version: s.state[k].version + 1, mzxid: t.zxid, by: id}
	}
	s.log = append(s.log, append([]mtCell(nil), s.state...))
}

func sharesKey(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
