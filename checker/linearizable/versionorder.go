package linearizable

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/zkchaos/zkchaos/history"
)

// ZooKeeper numbers every applied setData of a znode with its data version and
// returns it in the Stat: acknowledged writes and reads carry their place in
// the register's total order. versionOrder uses that to decide most keys in
// O(n log n) without a search:
//
//   - orderValid: it built a linearization (a point in time for every
//     operation, inside its call, in version order) and replayed it through
//     the model. Only a replayed witness makes a key valid.
//   - orderInvalid: the versions contradict the model in a way no ordering
//     can mend (two acknowledged writes with one version, a read older than
//     a write that had returned before it was called, a value at a version
//     no write made). The reason names the operations.
//   - orderUndecided: the order is ambiguous (indeterminate writes that
//     nobody observed, values written twice, a greedy choice that did not
//     fit); Porcupine decides.

// orderVerdict is what the version order could decide about a key.
type orderVerdict int

const (
	orderUndecided orderVerdict = iota
	orderValid
	orderInvalid
)

// orderResult is versionOrder's decision, with the reason for an invalid one
// and the operations (ids into keyHistory.ops) it involves.
type orderResult struct {
	verdict orderVerdict
	reason  string
	ops     []int
}

func undecided() orderResult { return orderResult{} }

// versionOrder decides a key from the versions in its history.
func versionOrder(kh *keyHistory) orderResult {
	v := orderCheck{kh: kh, writerOf: map[int32]int{}, byValue: map[int64]int{}, assigned: map[int]int32{}}
	return v.run()
}

// orderCheck is the working state of versionOrder.
type orderCheck struct {
	kh *keyHistory
	// writerOf maps a version to the write that made it: acknowledged ones
	// from their Stat, indeterminate ones from a read that saw their value.
	writerOf map[int32]int
	// byValue maps a written value to its write; values are unique per key.
	byValue map[int64]int
	// assigned holds the versions given to indeterminate writes.
	assigned         map[int]int32
	reads, failedCAS []int
	infoWrites       []int
}

func (c *orderCheck) in(id int) regInput   { return c.kh.ops[id].Input.(regInput) }
func (c *orderCheck) out(id int) regOutput { return c.kh.ops[id].Output.(regOutput) }
func (c *orderCheck) call(id int) int64    { return c.kh.ops[id].Call }
func (c *orderCheck) ret(id int) int64     { return c.kh.ops[id].Return }

// invalid builds an orderInvalid result; the format's %s verbs take
// operation ids, rendered as descriptions.
func (c *orderCheck) invalid(format string, ids ...int) orderResult {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = describeCall(c.kh, id)
	}
	return orderResult{verdict: orderInvalid, reason: fmt.Sprintf(format, args...), ops: ids}
}

func (c *orderCheck) run() orderResult {
	if r, done := c.classify(); done {
		return r
	}
	if r := c.realTime(); r.verdict == orderInvalid {
		return r
	}
	return c.witness()
}

// classify sorts the operations by role and indexes the writes; it checks
// the contradictions a single operation or pair reveals. done is true when
// that decided the key, or showed the version order cannot.
func (c *orderCheck) classify() (r orderResult, done bool) {
	dupValue := false
	for id := range c.kh.ops {
		in, out := c.in(id), c.out(id)
		switch {
		case in.f == history.Read:
			c.reads = append(c.reads, id)
			continue
		case out.typ == history.Fail:
			c.failedCAS = append(c.failedCAS, id)
			continue
		case out.typ == history.Info:
			c.infoWrites = append(c.infoWrites, id)
		case !out.hasVersion:
			return undecided(), true // an acknowledged write without its version
		default:
			if other, ok := c.writerOf[out.version]; ok {
				return c.invalid(fmt.Sprintf("two acknowledged writes both made version %d: %%s and %%s", out.version), other, id), true
			}
			if in.f == history.CAS && out.version != in.expect+1 {
				return c.invalid(fmt.Sprintf("a cas expecting version %d reported version %d: %%s", in.expect, out.version), id), true
			}
			c.writerOf[out.version] = id
		}
		if _, ok := c.byValue[in.value]; ok {
			dupValue = true
		}
		c.byValue[in.value] = id
	}
	if dupValue {
		return undecided(), true // values do not identify writes
	}
	for _, r := range c.reads {
		out := c.out(r)
		if out.version < 0 {
			return c.invalid("a read returned a negative version: %s", r), true
		}
		if out.version == 0 {
			if out.value != 0 {
				return c.invalid("a read returned a value other than 0 at version 0, where the register starts at 0: %s", r), true
			}
			continue
		}
		w, ok := c.byValue[out.value]
		if !ok {
			return c.invalid("a read returned a value that no write wrote: %s", r), true
		}
		wout := c.out(w)
		switch {
		case wout.typ == history.OK && wout.version != out.version:
			return c.invalid(fmt.Sprintf("a read returned a value at version %d, but the write of that value made version %d: read %%s; write %%s", out.version, wout.version), r, w), true
		case wout.typ == history.Info:
			if prev, ok := c.assigned[w]; ok && prev != out.version {
				return c.invalid(fmt.Sprintf("reads saw one write's value at versions %d and %d; a write takes effect once: %%s", prev, out.version), w), true
			}
			if in := c.in(w); in.f == history.CAS && in.expect+1 != out.version {
				return c.invalid(fmt.Sprintf("a read returned a cas's value at version %d, but the cas expected version %d: read %%s; cas %%s", out.version, in.expect), r, w), true
			}
			if other, ok := c.writerOf[out.version]; ok && other != w {
				return c.invalid(fmt.Sprintf("a read returned a value at version %d, which another write made: read %%s; write %%s", out.version), r, other), true
			}
			c.assigned[w] = out.version
			c.writerOf[out.version] = w
		}
		if c.ret(r) < c.call(w) {
			return c.invalid("a read returned a value before the write of that value was called: read %s; write %s", r, w), true
		}
	}
	return orderResult{}, false
}

// observation is a version some operation saw or made, and when it returned.
type observation struct {
	ret     int64
	version int32
	id      int
}

// realTime checks that no operation saw or made a version older than one an
// operation that had already returned saw or made: versions only grow.
func (c *orderCheck) realTime() orderResult {
	var obs []observation
	for id := range c.kh.ops {
		out := c.out(id)
		if out.typ == history.OK && out.hasVersion {
			obs = append(obs, observation{ret: c.ret(id), version: out.version, id: id})
		}
	}
	sort.Slice(obs, func(i, j int) bool { return obs[i].ret < obs[j].ret })
	// best[i] is the observation with the highest version among obs[:i+1].
	best := make([]int, len(obs))
	for i := range obs {
		best[i] = i
		if i > 0 && obs[best[i-1]].version >= obs[i].version {
			best[i] = best[i-1]
		}
	}
	for _, o := range obs {
		n := sort.Search(len(obs), func(i int) bool { return obs[i].ret >= c.call(o.id) })
		if n == 0 {
			continue
		}
		seen := obs[best[n-1]]
		isRead := c.in(o.id).f == history.Read
		if seen.version > o.version || (!isRead && seen.version == o.version) {
			what := "a read returned"
			if !isRead {
				what = "a write made"
			}
			return c.invalid(fmt.Sprintf("%s version %d after another operation had already returned with version %d; versions only grow: %%s; earlier %%s",
				what, o.version, seen.version), o.id, seen.id)
		}
	}
	return orderResult{}
}

// witness builds a linearization in version order, each operation at the
// earliest point its call and its predecessors allow, and replays it. Any
// step that does not fit leaves the key undecided.
func (c *orderCheck) witness() orderResult {
	// Reads by version.
	readsOf := map[int32][]int{}
	top := int32(0)
	for _, r := range c.reads {
		v := c.out(r).version
		readsOf[v] = append(readsOf[v], r)
		top = max(top, v)
	}
	for v := range c.writerOf {
		top = max(top, v)
	}
	if int(top) > len(c.kh.ops) {
		// More versions than writes could make: no witness exists, and
		// the versions must not size the work (a history read from a file
		// may say anything). Porcupine decides.
		return undecided()
	}
	// Indeterminate writes no read saw may fill versions nobody reported,
	// earliest call first; the rest take effect at the end, or never.
	sp := spares{plain: &queue{}, cas: map[int32]*queue{}}
	for _, id := range c.infoWrites {
		if _, ok := c.assigned[id]; ok {
			continue
		}
		q := sp.plain
		if in := c.in(id); in.f == history.CAS {
			if q = sp.cas[in.expect+1]; q == nil {
				q = &queue{}
				sp.cas[in.expect+1] = q
			}
		}
		q.ids = append(q.ids, id)
	}
	sp.sort(c)
	used := map[int]bool{}

	type placed struct {
		id    int
		point int64
		rank  int64 // order among equal points: the construction order
	}
	seq := make([]placed, 0, len(c.kh.ops))
	starts := make([]int64, top+2) // starts[v]: the point at which version v begins
	t := int64(math.MinInt64)
	place := func(id int) bool {
		p := max(t, c.call(id))
		if p > c.ret(id) {
			return false
		}
		seq = append(seq, placed{id: id, point: p, rank: int64(len(seq))})
		return true
	}
	for v := int32(0); v <= top; v++ {
		if v > 0 {
			w, ok := c.writerOf[v]
			if !ok {
				w = sp.take(c, v)
				if w < 0 {
					return undecided()
				}
			}
			used[w] = true
			if !place(w) {
				return undecided()
			}
			t = seq[len(seq)-1].point
		}
		starts[v] = t
		end := t
		for _, r := range readsOf[v] {
			if !place(r) {
				return undecided()
			}
			end = max(end, seq[len(seq)-1].point)
		}
		t = end
	}
	starts[top+1] = math.MaxInt64
	// A failed cas needs a moment in its call when the version was not
	// the one it expected: before that version began, or after it ended.
	for _, id := range c.failedCAS {
		e := c.in(id).expect
		p := c.call(id)
		if e >= 0 && e <= top && p >= starts[e] {
			p = max(p, starts[e+1])
			if p > c.ret(id) {
				return undecided()
			}
		}
		seq = append(seq, placed{id: id, point: p, rank: int64(len(seq))})
	}
	// The rest of the indeterminate writes take effect after everything.
	for _, id := range c.infoWrites {
		if !used[id] {
			seq = append(seq, placed{id: id, point: max(t, c.call(id)), rank: math.MaxInt64})
		}
	}
	if len(seq) != len(c.kh.ops) {
		// Some operation has no place in the order (an acknowledged write
		// at a version no write can make): only the search can judge it.
		return undecided()
	}
	slices.SortStableFunc(seq, func(a, b placed) int {
		if a.point != b.point {
			return cmp.Compare(a.point, b.point)
		}
		return cmp.Compare(a.rank, b.rank)
	})
	// Replay: the witness must be a legal run of the model, each point
	// inside its operation's call.
	s := regState{}
	for _, p := range seq {
		op := c.kh.ops[p.id]
		if p.point < op.Call || p.point > op.Return {
			return undecided()
		}
		ok, next := step(s, op.Input.(regInput), op.Output.(regOutput))
		if !ok {
			return undecided()
		}
		s = next
	}
	return orderResult{verdict: orderValid}
}

// queue is a list of operation ids taken from the front.
type queue struct {
	ids  []int
	next int
}

func (q *queue) peek() int {
	if q == nil || q.next == len(q.ids) {
		return -1
	}
	return q.ids[q.next]
}

// spares are the indeterminate writes no read saw, each list by call time:
// plain writes can make any version, a cas only the one after its expected.
type spares struct {
	plain *queue
	cas   map[int32]*queue // by the version the cas would make
}

func (s spares) sort(c *orderCheck) {
	byCall := func(a, b int) int { return cmp.Compare(c.call(a), c.call(b)) }
	slices.SortStableFunc(s.plain.ids, byCall)
	for _, q := range s.cas {
		slices.SortStableFunc(q.ids, byCall)
	}
}

// take removes and returns the spare with the earliest call that can make
// version v, or -1.
func (s spares) take(c *orderCheck, v int32) int {
	plain, cas := s.plain.peek(), s.cas[v].peek()
	switch {
	case plain < 0 && cas < 0:
		return -1
	case cas < 0 || (plain >= 0 && c.call(plain) <= c.call(cas)):
		s.plain.next++
		return plain
	default:
		s.cas[v].next++
		return cas
	}
}
