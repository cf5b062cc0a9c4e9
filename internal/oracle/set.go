package oracle

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// Operation names of the set and queue workloads, spelled out so the oracle
// depends on no constant of the checker package.
const (
	setAdd       = "add"
	queueEnqueue = "enqueue"
	queueDequeue = "dequeue"
)

// never is the return time of an operation whose outcome is unknown: its
// effect may come at any later moment.
const never = math.MaxInt64

// maxSteps bounds the operations one element's brute force orders.
const maxSteps = 62

// sqCall is a client operation as its process recorded it: the invocation
// and the completion, nil when the process never completed it.
type sqCall struct {
	inv  history.Op
	done *history.Op
}

// is reports whether the call completed with type t.
func (c sqCall) is(t history.Type) bool { return c.done != nil && c.done.Type == t }

// indeterminate reports whether the call may or may not have taken effect.
func (c sqCall) indeterminate() bool { return !c.is(history.OK) && !c.is(history.Fail) }

// ret is when the call certainly ended: its completion's time, or never
// for an indeterminate call.
func (c sqCall) ret() int64 {
	if c.indeterminate() {
		return never
	}
	return c.done.Time
}

// node is the server a read ran on.
func (c sqCall) node() string {
	if c.done != nil && c.done.Node != "" {
		return c.done.Node
	}
	return c.inv.Node
}

// sqHistory is a history taken apart: its client calls, paired by process
// (an invocation is completed by the next completion of its process; one
// its process abandoned by invoking again never completed), and every node
// the history names.
type sqHistory struct {
	calls []sqCall
	nodes map[string]bool
}

func splitCalls(ops []history.Op) sqHistory {
	h := sqHistory{nodes: map[string]bool{}}
	open := map[history.Process]int{}
	for _, op := range ops {
		if op.Process == history.NemesisProcess {
			for n := range op.Roles {
				h.nodes[n] = true
			}
			continue
		}
		if op.Node != "" {
			h.nodes[op.Node] = true
		}
		if op.Type == history.Invoke {
			open[op.Process] = len(h.calls)
			h.calls = append(h.calls, sqCall{inv: op})
			continue
		}
		if i, ok := open[op.Process]; ok {
			done := op
			h.calls[i].done = &done
			delete(open, op.Process)
		}
	}
	return h
}

// reads returns the ok reads.
func (h sqHistory) reads() []sqCall {
	var out []sqCall
	for _, c := range h.calls {
		if c.inv.F == history.Read && c.is(history.OK) {
			out = append(out, c)
		}
	}
	return out
}

// unread reports whether a node the history names has no ok read.
func (h sqHistory) unread(reads []sqCall) bool {
	read := map[string]bool{}
	for _, r := range reads {
		read[r.node()] = true
	}
	for n := range h.nodes {
		if !read[n] {
			return true
		}
	}
	return false
}

// precedes reports whether a certainly ended before b began: in every
// linearization a comes first.
func precedes(a, b sqCall) bool { return a.ret() < b.inv.Time }

// copiesIn counts how often e is listed in the read.
func copiesIn(r sqCall, e int64) int {
	n := 0
	for _, v := range r.done.Values {
		if v == e {
			n++
		}
	}
	return n
}

// sequenced is an acknowledged create of a sequential znode: its call, its
// name and the number ZooKeeper gave it.
type sequenced struct {
	call sqCall
	path string
	num  int64
}

// sequentialName returns the number of the sequential znode an ok create
// made: ZooKeeper appends the parent's counter to the asked path as ten
// characters (%010d). Without a recorded asked path, the last ten
// characters of the name are taken.
func sequentialName(c sqCall) (sequenced, bool) {
	p, asked := c.done.Path, c.inv.Path
	if p == "" || asked != "" && (len(p) != len(asked)+10 || !strings.HasPrefix(p, asked)) {
		return sequenced{}, false
	}
	n, ok := sequenceNumber(p)
	return sequenced{call: c, path: p, num: n}, ok
}

// sequenceNumber reads the last ten characters of a znode's name as a
// number.
func sequenceNumber(path string) (int64, bool) {
	name := path[strings.LastIndex(path, "/")+1:]
	if len(name) < 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	return n, err == nil
}

// namesFollowRealTime reports whether no two acknowledged sequential creates
// got the same name, and whether every create that ended before another
// began got the lower number (ZooKeeper numbers in commit order).
func namesFollowRealTime(cs []sequenced) bool {
	for i, a := range cs {
		for j, b := range cs {
			if i == j {
				continue
			}
			if a.path == b.path || precedes(a.call, b.call) && a.num >= b.num {
				return false
			}
		}
	}
	return true
}

// elemStep is one operation of the history seen through one element: a
// change of its state, or a read of how many copies of it there are.
type elemStep struct {
	// change is set for a step that moves the element from one of the
	// states in from (a bit set) to state to. A read changes nothing.
	change bool
	from   int
	to     int
	// copies is what a read listed: one copy exactly when the element is
	// present.
	copies int
	// optional steps are indeterminate: they may not have happened.
	optional bool
	inv, ret int64
}

// Element states: not yet in the collection, in it, taken out of it.
const (
	absent = iota
	present
	removed
)

func readStep(r sqCall, e int64) elemStep {
	return elemStep{copies: copiesIn(r, e), inv: r.inv.Time, ret: r.ret()}
}

// changeStep is the call seen as a change of the element to state to from
// any of the states from.
func changeStep(c sqCall, to int, from ...int) elemStep {
	s := elemStep{change: true, to: to, optional: c.indeterminate(), inv: c.inv.Time, ret: c.ret()}
	for _, f := range from {
		s.from |= 1 << f
	}
	return s
}

// elementLinearizable tries every order of the element's steps that real
// time allows (a step may come next when no unplaced step ended before it
// began), leaving out indeterminate ones at will, and reports whether one
// order makes every step legal: a change from a state it may start from,
// and every read listing one copy exactly when the element is present.
func elementLinearizable(steps []elemStep) (bool, error) {
	if len(steps) > maxSteps {
		return false, fmt.Errorf("%d operations on one element are too many for brute force", len(steps))
	}
	o := orders{steps: steps, after: make([]uint64, len(steps))}
	for i, s := range steps {
		if !s.optional {
			o.mandatory |= 1 << i
		}
		for j, p := range steps {
			if j != i && p.ret < s.inv {
				o.after[i] |= 1 << j
			}
		}
	}
	o.dead = map[[2]uint64]bool{}
	return o.from(0, absent), nil
}

// orders is the search of elementLinearizable: after[i] are the steps that
// ended before step i began, mandatory those that must all be placed, and
// dead the placements (with the state they leave) known to lead nowhere.
type orders struct {
	steps     []elemStep
	after     []uint64
	mandatory uint64
	dead      map[[2]uint64]bool
}

// from reports whether the steps not in placed can follow, from state.
func (o orders) from(placed uint64, state int) bool {
	if o.mandatory&^placed == 0 {
		return true
	}
	if o.dead[[2]uint64{placed, uint64(state)}] {
		return false
	}
	for i, s := range o.steps {
		if placed&(1<<i) != 0 || o.after[i]&^placed != 0 {
			continue
		}
		next := state
		switch {
		case s.change && s.from&(1<<state) == 0:
			continue
		case s.change:
			next = s.to
		case s.copies > 1 || (s.copies == 1) != (state == present):
			continue
		}
		if o.from(placed|1<<i, next) {
			return true
		}
	}
	o.dead[[2]uint64{placed, uint64(state)}] = true
	return false
}

// judgeElement runs the brute force on the element's steps and every
// read of it.
func judgeElement(e int64, steps []elemStep, reads []sqCall) (bool, error) {
	steps = slices.Clip(steps)
	for _, r := range reads {
		steps = append(steps, readStep(r, e))
	}
	ok, err := elementLinearizable(steps)
	if err != nil {
		return false, fmt.Errorf("element %d: %w", e, err)
	}
	return ok, nil
}

// listedElements returns every element the reads listed.
func listedElements(reads []sqCall) []int64 {
	var out []int64
	for _, r := range reads {
		out = append(out, r.done.Values...)
	}
	return out
}

// Set judges a set workload history (unique elements added by creates, the
// set read in full by final reads) by what set.Checker documents. It
// returns valid when no violation is found, and decided false when the
// history holds too little evidence to call it valid: an add without its
// element, no ok read, no acknowledged add, or a node the history names
// without an ok read. A violation is always decided.
//
// The history is seen one element at a time: the element's adds and every
// ok read (how often it listed the element) must have a linearization
// consistent with real time, in which the first add that takes effect puts
// the element in the set for good, failed adds never take effect,
// indeterminate ones may or may not, and every read lists the element once
// exactly when it is in the set. Acknowledged sequential creates must get
// distinct names whose numbers follow real time. Orders across elements are
// not judged, as set.Checker does not claim them.
func Set(ops []history.Op) (valid, decided bool, err error) {
	h := splitCalls(ops)
	reads := h.reads()
	byElement := map[int64][]elemStep{}
	var names []sequenced
	malformed, acked := 0, 0
	for _, c := range h.calls {
		if c.inv.F != setAdd {
			continue
		}
		if c.inv.Value == nil {
			malformed++
			continue
		}
		e := *c.inv.Value
		if c.is(history.Fail) {
			continue // certainly never took effect
		}
		if c.is(history.OK) {
			acked++
			if s, ok := sequentialName(c); ok {
				names = append(names, s)
			}
		}
		// Adding an element already present changes nothing.
		byElement[e] = append(byElement[e], changeStep(c, present, absent, present))
	}
	for _, e := range listedElements(reads) {
		if _, ok := byElement[e]; !ok {
			byElement[e] = nil // never added: every read must lack it
		}
	}
	for e, steps := range byElement {
		ok, err := judgeElement(e, steps, reads)
		if err != nil {
			return false, false, fmt.Errorf("set: %w", err)
		}
		if !ok {
			return false, true, nil
		}
	}
	if !namesFollowRealTime(names) {
		return false, true, nil
	}
	return true, malformed == 0 && len(reads) > 0 && acked > 0 && !h.unread(reads), nil
}
