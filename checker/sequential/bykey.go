package sequential

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// StartByKey judges one key at a time. Three rules look across keys: no
// zxid changes two keys, a write's zxid exceeds every zxid observed before
// it was invoked, and a session's reads never fall behind its view of the
// whole tree. Those follow the history in order as it is read (Record),
// which needs records in time order, as the history writer writes them;
// what a key's judgement needs from them (each read's session view, each
// write's highest zxid before it) waits for it as notes or in memory.
func (q Checker) StartByKey(ctx context.Context) checker.KeyJudgement {
	return &judgement{
		q: q, start: time.Now(),
		open: map[history.Process]openCall{}, unattached: list.New(), sessionLogs: map[sessionID]*sessionLog{},
		keyIDs: map[string]uint32{}, zxidBefore: map[int64]*operation{}, wantFirst: map[string][]int64{}, firstOf: map[int64]*operation{},
		parts: map[string]*part{},
	}
}

// noteView is the F of the note that gives a read its session's view: the
// note's Index and Key name the view's invocation, Zxid is its zxid, and
// Value is the read's invocation index.
const noteView = "sequential-view"

// phase0Shown bounds the zxids observed on two keys kept as examples.
const phase0Shown = examplesPerRule

type judgement struct {
	q     Checker
	start time.Time

	// Following the history in order.
	open        map[history.Process]openCall
	unattached  *list.List // the invocation times of the reads in flight invoked without a session, earliest first
	time        int64
	disordered  bool
	best        *operation // the observation with the highest zxid so far
	bestBefore  *operation // the same among those completed before time
	sessionLogs map[sessionID]*sessionLog
	keyIDs      map[string]uint32 // key -> 1 + its place in keyNames
	keyNames    []string
	owners      *owners              // made by the first observation with a zxid
	twoKeys     int                  // observations of a zxid another key observed first
	twoKeysSeen []*operation         // the first of them
	zxidBefore  map[int64]*operation // write invocation -> an observation that makes it violate write-real-time
	wantFirst   map[string][]int64   // key -> zxids whose first observation an example names
	keepErr     error

	// Judging the keys.
	mu        sync.Mutex
	firstOf   map[int64]*operation // zxid -> its first observation, for wantFirst
	parts     map[string]*part
	d         Details
	malformed []malformedAt
	stopped   bool
}

// openCall is a call in flight: its invocation, for a write the
// observation with the highest zxid completed before it, and for a read the
// view of the session it was invoked in.
type openCall struct {
	invoke *history.Op
	before *operation
	// session is the session the invocation names, or its process when it
	// names none; view is that session's view then, if it had one.
	session sessionID
	view    view
	hasView bool
	// unattached is the read's place in judgement.unattached when its
	// invocation names no session: its completion may name one, whose
	// view it then needs from the session's log.
	unattached *list.Element
}

type malformedAt struct {
	at   int64
	what string
}

// sessionLog keeps the views of a session a read may still need: each
// observation that raised the highest zxid the session had seen, in
// completion order, as much of each as a note names. A read takes the last
// view that completed before it was invoked: one invoked in the session
// takes it then (openCall.view), and one invoked without a session (which
// its completion names) from the log, which keeps the views from the last
// one before the earliest such read in flight was invoked. So a session
// holds one or two views however long it lives, and a session named by its
// id more only while a read invoked without a session is in flight.
type sessionLog struct {
	views []view
	read  bool // an ok read of the session was judged
}

// view is an observation as a session's view: its zxid, when it completed,
// and its invocation (key and index).
type view struct {
	zxid, ret, index int64
	key              string
}

// add notes o, an observation of the session, and forgets the views that
// no call invoked from horizon on needs.
func (l *sessionLog) add(o *operation, horizon int64) {
	if o.zxid == 0 || (len(l.views) > 0 && o.zxid <= l.views[len(l.views)-1].zxid) {
		return
	}
	keep := 0
	for keep+1 < len(l.views) && l.views[keep+1].ret < horizon {
		keep++
	}
	l.views = append(slices.Delete(l.views, 0, keep), view{zxid: o.zxid, ret: o.ret, index: o.call.Invoke.Index, key: o.key})
}

// before returns the session's view when an operation was invoked at t:
// its observation with the highest zxid completed before t, if it had one.
func (l *sessionLog) before(t int64) (view, bool) {
	for i := len(l.views) - 1; i >= 0; i-- {
		if l.views[i].ret < t {
			return l.views[i], true
		}
	}
	return view{}, false
}

func (j *judgement) Record(h *checker.Keys, op *history.Op) {
	if op.Time < j.time {
		j.disordered = true
	}
	if op.Time > j.time {
		j.time, j.bestBefore = op.Time, j.best
	}
	if op.IsNemesis() {
		return
	}
	if op.Type == history.Invoke {
		if prev, ok := j.open[op.Process]; ok && prev.unattached != nil {
			j.unattached.Remove(prev.unattached) // it never completes
		}
		c := openCall{invoke: op, before: j.bestBefore}
		c.session, _ = sessionIDOf(history.Call{Invoke: op, Complete: op})
		if op.F == history.Read {
			if log := j.sessionLogs[c.session]; log != nil {
				c.view, c.hasView = log.before(op.Time)
			}
			if op.Session == 0 {
				c.unattached = j.unattached.PushBack(op.Time)
			}
		}
		j.open[op.Process] = c
		return
	}
	call, ok := j.open[op.Process]
	if !ok {
		return
	}
	delete(j.open, op.Process)
	if call.unattached != nil {
		j.unattached.Remove(call.unattached)
	}
	o, _ := newOperation(history.Call{Invoke: call.invoke, Complete: op})
	if o == nil || !o.observation() {
		return
	}
	if o.zxid != 0 {
		id, ok := j.keyIDs[o.key]
		if !ok {
			j.keyNames = append(j.keyNames, o.key)
			id = uint32(len(j.keyNames))
			j.keyIDs[o.key] = id
		}
		if j.owners == nil {
			j.owners = newOwners(func() (*os.File, error) { return h.CreateTemp("owners-") })
		}
		owner, err := j.owners.claim(o.zxid, id)
		if err != nil {
			j.keepErr = cmp.Or(j.keepErr, err)
		} else if owner != id {
			j.twoKeys++
			if len(j.twoKeysSeen) < phase0Shown {
				j.twoKeysSeen = append(j.twoKeysSeen, o)
				first := j.keyNames[owner-1]
				j.wantFirst[first] = append(j.wantFirst[first], o.zxid)
			}
		}
	}
	if p := call.before; o.isWrite() && p != nil && o.zxid != 0 && p.zxid >= o.zxid {
		j.zxidBefore[call.invoke.Index] = p
	}
	if session, ok := sessionIDOf(o.call); ok {
		log := j.sessionLogs[session]
		if log == nil {
			log = &sessionLog{}
			j.sessionLogs[session] = log
		}
		log.read = log.read || o.f == history.Read
		v, found := call.view, call.hasView
		if session != call.session {
			v, found = log.before(o.inv)
		}
		if o.f == history.Read && found {
			note := history.Op{Index: v.index, Type: history.OK, F: noteView, Key: v.key,
				Zxid: v.zxid, Value: history.Int64(call.invoke.Index)}
			if err := h.Note(o.key, &note); err != nil {
				j.keepErr = cmp.Or(j.keepErr, err)
			}
		}
		horizon := j.time // a process's session serves only reads invoked in it
		if session.id != 0 {
			horizon = j.horizon()
		}
		log.add(o, horizon)
	}
	if b := j.best; b == nil || o.zxid > b.zxid ||
		(o.zxid == b.zxid && o.ret == b.ret && (o.key < b.key || (o.key == b.key && o.call.Invoke.Index < b.call.Invoke.Index))) {
		j.best = o
	}
}

// horizon is the earliest time a read in flight or yet to come, that took
// no view of the session its completion names when it was invoked, can
// have been invoked at.
func (j *judgement) horizon() int64 {
	if first := j.unattached.Front(); first != nil {
		return first.Value.(int64)
	}
	return j.time
}

// part is what the judgement of one key found: the violations that may be
// among the whole history's examples (the first few of each rule, of the
// key's own rules and of its sessions', in the order found).
type part struct {
	phase  int // 1 while the key's own rules run, 2 during the sessions'
	found  []finding
	counts [3]map[string]int
}

// finding is one violation a key's judgement found.
type finding struct {
	phase int
	v     Violation
	// r is the read of a session rule's violation, by which those of all
	// keys are put in the order Check finds them.
	r *operation
	// u, when not nil, is a session-view violation whose view is another
	// key's operation, described once it is read back.
	u *unresolved
}

// unresolved is a session-view violation whose view is only a reference.
type unresolved struct {
	name       string
	r, view, w *operation
}

// keep keeps v, or u, if it is among the first of its rule in this phase.
func (p *part) keep(v Violation, u *unresolved) {
	if p.counts[p.phase] == nil {
		p.counts[p.phase] = map[string]int{}
	}
	if p.counts[p.phase][v.Rule]++; p.counts[p.phase][v.Rule] > examplesPerRule {
		return
	}
	f := finding{phase: p.phase, v: v, u: u}
	if u != nil {
		u.r, u.w = detach(u.r), detach(u.w)
		f.r = u.r
	} else if p.phase == 2 {
		f.r = &operation{inv: v.Ops[0].Invoke.Time, call: history.Call{Invoke: &v.Ops[0].Invoke}}
	}
	p.found = append(p.found, f)
}

// detach copies o with its records, so that it no longer holds the
// history they came from.
func detach(o *operation) *operation {
	c := *o
	inv, comp := *o.call.Invoke, *o.call.Complete
	c.call = history.Call{Invoke: &inv, Complete: &comp}
	return &c
}

func (j *judgement) Key(ctx context.Context, h *checker.Keys, key string, ops []history.Op) {
	s := &state{ctx: ctx, part: &part{phase: 1}}
	byKey, _ := s.prepare(ops)
	views := map[int64]view{} // read invocation index -> its session's view
	err := h.Notes(key, func(n *history.Op) {
		if n.F == noteView && n.Value != nil {
			views[*n.Value] = view{zxid: n.Zxid, index: n.Index, key: n.Key}
		}
	})
	s.zxidBefore = func(w *operation) *operation { return j.zxidBefore[w.call.Invoke.Index] }
	s.views = func(r *operation) *operation {
		v, ok := views[r.call.Invoke.Index]
		if !ok {
			return nil
		}
		// A reference to the view's invocation, read back and described
		// if a violation names it.
		ref := &history.Op{Index: v.index, Type: history.OK, F: noteView, Key: v.key, Zxid: v.zxid}
		return &operation{key: v.key, zxid: v.zxid, call: history.Call{Complete: ref}}
	}
	kops := byKey[key]
	s.keyRules(key, kops)
	s.part.phase = 2
	s.sessions(byKey)
	first := map[int64]*operation{} // the first observation of each zxid an example names
	if want := j.wantFirst[key]; len(want) > 0 {
		for _, o := range byReturn(kops) {
			if _, ok := first[o.zxid]; !ok && o.observation() && slices.Contains(want, o.zxid) {
				first[o.zxid] = o
			}
		}
	}

	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.keepErr = cmp.Or(j.keepErr, err)
	}
	for _, z := range j.wantFirst[key] {
		if o := first[z]; o != nil {
			j.firstOf[z] = detach(o)
		}
	}
	j.parts[key] = s.part
	j.d.ReadsChecked += s.d.ReadsChecked
	j.d.OKWrites += s.d.OKWrites
	j.d.AmbiguousSession += s.d.AmbiguousSession
	j.d.Malformed += s.d.Malformed
	for i, what := range s.d.MalformedExamples {
		j.malformed = append(j.malformed, malformedAt{at: s.malformedAt[i], what: what})
	}
	for rule, n := range s.d.ByRule {
		js := state{d: j.d}
		js.count(rule, n)
		j.d = js.d
	}
	j.stopped = j.stopped || s.stopped
}

func (j *judgement) Result(ctx context.Context, h *checker.Keys) checker.Result {
	switch {
	case j.disordered:
		return checker.Result{Checker: j.q.Name(), Verdict: checker.Unknown, Duration: time.Since(j.start),
			Message: "the history's records are out of time order, and the rules across keys follow it in order when it is judged key by key: judge it whole."}
	case j.keepErr != nil:
		return checker.Result{Checker: j.q.Name(), Verdict: checker.Unknown, Duration: time.Since(j.start),
			Message: fmt.Sprintf("the check could not keep what it needs on disk: %v.", j.keepErr)}
	}
	s := &state{ctx: ctx, d: j.d, stopped: j.stopped}
	if j.twoKeys > 0 {
		s.count(RuleVersionAgreement, j.twoKeys)
	}
	for _, log := range j.sessionLogs {
		if log.read {
			s.d.Sessions++
		}
	}
	slices.SortFunc(j.malformed, func(a, b malformedAt) int { return cmp.Compare(a.at, b.at) })
	for _, m := range j.malformed[:min(len(j.malformed), malformedShown)] {
		s.d.MalformedExamples = append(s.d.MalformedExamples, m.what)
	}

	// The violations in the order Check finds them: zxids observed on two
	// keys, by completion; each key's own rules, by key; the sessions', by
	// session and invocation.
	var order []finding
	for _, o := range j.twoKeysSeen {
		if p := j.firstOf[o.zxid]; p != nil {
			order = append(order, finding{v: zxidOfTwoKeys(o, p)})
		}
	}
	var sessions []finding
	for _, key := range slices.Sorted(maps.Keys(j.parts)) {
		for _, f := range j.parts[key].found {
			if f.phase == 1 {
				order = append(order, f)
			} else {
				sessions = append(sessions, f)
			}
		}
	}
	slices.SortStableFunc(sessions, func(a, b finding) int {
		return cmp.Or(strings.Compare(a.v.Session, b.v.Session), cmp.Compare(a.r.inv, b.r.inv),
			cmp.Compare(a.r.call.Invoke.Index, b.r.call.Invoke.Index))
	})
	order = append(order, sessions...)

	resolve := resolver{h: h, calls: map[string]map[int64]history.Call{}}
	shown := map[string]int{}
	for i, f := range order {
		shown[f.v.Rule]++
		show := shown[f.v.Rule] <= examplesPerRule && len(s.d.Examples) < examples
		if i > 0 && !show {
			continue
		}
		v, err := resolve.violation(f)
		if err != nil {
			s.stopped = true
			break
		}
		if i == 0 {
			s.first = fmt.Sprintf("%s on key %s: %s", v.Rule, v.Key, v.Explanation)
		}
		if show {
			s.d.Examples = append(s.d.Examples, v)
		}
	}
	return j.q.result(ctx, s, j.start)
}

// resolver reads back the operations that violations of one key name on
// another.
type resolver struct {
	h     *checker.Keys
	calls map[string]map[int64]history.Call // key -> invocation index -> call
}

// violation returns f's violation, described in full.
func (r resolver) violation(f finding) (Violation, error) {
	if f.u == nil {
		return f.v, nil
	}
	ref := f.u.view.call.Complete
	calls, ok := r.calls[ref.Key]
	if !ok {
		ops, err := r.h.Load(ref.Key)
		if err != nil {
			return Violation{}, err
		}
		calls = map[int64]history.Call{}
		for _, c := range history.Calls(ops) {
			calls[c.Invoke.Index] = c
		}
		r.calls[ref.Key] = calls
	}
	c, ok := calls[ref.Index]
	if !ok {
		return Violation{}, fmt.Errorf("the view of a read, record %d of key %s, is not among its records", ref.Index, ref.Key)
	}
	view, _ := newOperation(c)
	if view == nil {
		return Violation{}, fmt.Errorf("the view of a read, record %d of key %s, is no register operation", ref.Index, ref.Key)
	}
	return sessionView(f.u.name, f.u.r, view, f.u.w), nil
}
