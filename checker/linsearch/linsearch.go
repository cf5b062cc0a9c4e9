// Package linsearch decides whether the history of one object is
// linearizable: an exact search in the manner of Wing and Gong as improved
// by Lowe (the algorithm behind Porcupine and Knossos' WGL checker), made
// fast on the histories that defeat it, those with many indeterminate
// operations.
//
// An indeterminate operation (a crashed client, Jepsen's :info) may take
// effect at any moment after its call, or never. A plain search treats each
// as an operation that must be placed somewhere, and k of them open 2^k
// orders; a history of 300 operations with dozens of crashed writers is out
// of reach. This search knows three facts that make those histories easy:
//
//   - Interchangeable: indeterminate operations with equal inputs differ only
//     in their call times, so only the earliest-called unused one of a kind
//     is ever tried (any linearization can swap them into that order).
//   - Optional: an indeterminate operation placed at the very end changes
//     nothing that anyone observed, so a configuration that has used fewer of
//     them dominates one that used more with the same state and the same
//     definite operations; once every definite operation is placed the
//     history is linearizable. One that would not change the state is never
//     tried.
//   - Reads commute: an operation that never changes the state and is legal
//     now can be placed now with no loss (nothing it precedes can observe
//     it), so it is placed without trying alternatives.
//
// The model is a plain value, as in Porcupine; operations carry their input
// and whether their output was recorded; the state and input types must be
// comparable.
package linsearch

import (
	"context"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Model is a sequential specification of one object.
type Model[S comparable, I comparable] struct {
	// Init is the object's state before any operation.
	Init S
	// Step applies an operation to s and reports whether its recorded output
	// is legal in s. An indeterminate operation's output is not recorded:
	// Step must accept it in every state.
	Step func(s S, in I) (S, bool)
	// Pure reports whether an operation never changes the state (a read).
	// Nil means none does.
	Pure func(in I) bool
}

// Op is one operation: its input (which, for a definite operation, holds the
// output it returned) and its interval.
type Op[I comparable] struct {
	// Call and Return bound when the operation took effect. Return is
	// ignored for an indeterminate operation.
	Call, Return int64
	// Input is what Step is given.
	Input I
	// Indeterminate operations may have taken effect at any time after
	// Call, or never.
	Indeterminate bool
}

// Verdict is the answer of a search.
type Verdict int

const (
	// Unknown means the search stopped (deadline or cancellation) before it
	// decided.
	Unknown Verdict = iota
	// Linearizable means an order was found.
	Linearizable
	// NotLinearizable means no order exists.
	NotLinearizable
)

func (v Verdict) String() string {
	switch v {
	case Linearizable:
		return "linearizable"
	case NotLinearizable:
		return "not linearizable"
	}
	return "unknown"
}

// Outcome is what a search found.
type Outcome[S comparable] struct {
	Verdict Verdict
	// Order is a linearization when the history is linearizable, otherwise
	// the longest linearizable prefix found (by definite operations placed):
	// indices into the operations given, indeterminate ones included.
	Order []int
	// State is the state after Order.
	State S
	// Configurations is how many distinct configurations were explored.
	Configurations int
}

// Options bound a search.
type Options struct {
	// Deadline stops the search with Unknown; zero means none.
	Deadline time.Time
	// CacheWords bounds the memory of the configuration cache, in 64-bit
	// words; past it the search goes on without remembering more (still
	// exact, possibly slower). Zero means 1<<25 (256 MB).
	CacheWords int
}

// entry is an event of a definite operation in the doubly linked list of
// events still to linearize, ordered by time.
type entry struct {
	op         int // index into the definite operations
	call       bool
	time       int64
	match      *entry // a call's return
	prev, next *entry
}

// cacheEntry is a configuration seen: the definite operations placed, the
// state, and the indeterminate ones used. done is set once every
// continuation from it failed.
type cacheEntry[S comparable] struct {
	placed []uint64
	state  S
	used   []uint64
	done   bool
}

// child is a move from a configuration: an operation (definite d >= 0, or
// indeterminate kind k as -1-k) and the state it leads to.
type child[S comparable] struct {
	move  int
	state S
}

type frame[S comparable] struct {
	move      int // the move that led here; 0 at the root is unused
	prevState S
	entry     *cacheEntry[S]
	children  []child[S]
	next      int
}

// search is the state of one Check.
type search[S comparable, I comparable] struct {
	m      Model[S, I]
	ops    []Op[I]
	def    []int    // definite operations: index into ops
	callOf []*entry // each definite operation's call event
	head   entry    // sentinel of the event list
	// Indeterminate operations grouped by input, each kind's members in
	// call order; used[k] of kind k are placed.
	kinds   [][]int
	kindIn  []I
	usedOf  []int
	kindBit [][]int // bit index of each member, for the used bitset
	nIndet  int

	placed     []uint64
	used       []uint64
	hash       uint64 // of placed
	zobrist    []uint64
	seed       maphash.Seed
	cache      map[uint64][]*cacheEntry[S]
	cacheWords int
	wordsLeft  int
	remaining  int // definite operations not placed

	best      []int
	bestState S
	bestCount int
	path      []int // ops placed, in order
}

// Check searches for a linearization of ops under m.
func Check[S comparable, I comparable](ctx context.Context, m Model[S, I], ops []Op[I], opt Options) Outcome[S] {
	s := newSearch(m, ops, opt)
	return s.run(ctx, opt.Deadline)
}

func newSearch[S comparable, I comparable](m Model[S, I], ops []Op[I], opt Options) *search[S, I] {
	s := &search[S, I]{m: m, ops: ops, seed: maphash.MakeSeed(), cache: map[uint64][]*cacheEntry[S]{}}
	s.wordsLeft = opt.CacheWords
	if s.wordsLeft <= 0 {
		s.wordsLeft = 1 << 25
	}
	kindOf := map[I]int{}
	for i, op := range ops {
		if !op.Indeterminate {
			s.def = append(s.def, i)
			continue
		}
		k, ok := kindOf[op.Input]
		if !ok {
			k = len(s.kinds)
			kindOf[op.Input] = k
			s.kinds = append(s.kinds, nil)
			s.kindIn = append(s.kindIn, op.Input)
		}
		s.kinds[k] = append(s.kinds[k], i)
	}
	bit := 0
	s.kindBit = make([][]int, len(s.kinds))
	for k, members := range s.kinds {
		sort.SliceStable(members, func(a, b int) bool { return ops[members[a]].Call < ops[members[b]].Call })
		for range members {
			s.kindBit[k] = append(s.kindBit[k], bit)
			bit++
		}
	}
	s.nIndet = bit
	s.usedOf = make([]int, len(s.kinds))
	s.placed = make([]uint64, (len(s.def)+63)/64)
	s.used = make([]uint64, (s.nIndet+63)/64)
	s.remaining = len(s.def)
	s.cacheWords = len(s.placed) + len(s.used) + 4

	rng := rand.New(rand.NewPCG(uint64(len(ops)), 0x9e3779b97f4a7c15))
	s.zobrist = make([]uint64, len(s.def))
	for i := range s.zobrist {
		s.zobrist[i] = rng.Uint64()
	}

	// The events of definite operations, by time; at equal times calls
	// come first (the operations overlap), then by operation.
	events := make([]*entry, 0, 2*len(s.def))
	s.callOf = make([]*entry, len(s.def))
	for d, i := range s.def {
		op := ops[i]
		ret := &entry{op: d, time: max(op.Return, op.Call)}
		s.callOf[d] = &entry{op: d, call: true, time: op.Call, match: ret}
		events = append(events, s.callOf[d], ret)
	}
	sort.SliceStable(events, func(a, b int) bool {
		ea, eb := events[a], events[b]
		if ea.time != eb.time {
			return ea.time < eb.time
		}
		if ea.call != eb.call {
			return ea.call
		}
		return ea.op < eb.op
	})
	prev := &s.head
	for _, e := range events {
		prev.next, e.prev = e, prev
		prev = e
	}
	return s
}

// lift removes a call and its return from the event list.
func lift(call *entry) {
	call.prev.next = call.next
	if call.next != nil {
		call.next.prev = call.prev
	}
	ret := call.match
	ret.prev.next = ret.next
	if ret.next != nil {
		ret.next.prev = ret.prev
	}
}

// unlift puts back what lift removed; lifts are undone in reverse order.
func unlift(call *entry) {
	ret := call.match
	ret.prev.next = ret
	if ret.next != nil {
		ret.next.prev = ret
	}
	call.prev.next = call
	if call.next != nil {
		call.next.prev = call
	}
}

// apply makes a move.
func (s *search[S, I]) apply(move int) {
	if move >= 0 {
		s.placed[move/64] |= 1 << (move % 64)
		s.hash ^= s.zobrist[move]
		s.remaining--
		lift(s.callOf[move])
		s.path = append(s.path, s.def[move])
		return
	}
	k := -1 - move
	b := s.kindBit[k][s.usedOf[k]]
	s.used[b/64] |= 1 << (b % 64)
	s.path = append(s.path, s.kinds[k][s.usedOf[k]])
	s.usedOf[k]++
}

// undo takes the last move back.
func (s *search[S, I]) undo(move int) {
	s.path = s.path[:len(s.path)-1]
	if move >= 0 {
		s.placed[move/64] &^= 1 << (move % 64)
		s.hash ^= s.zobrist[move]
		s.remaining++
		unlift(s.callOf[move])
		return
	}
	k := -1 - move
	s.usedOf[k]--
	b := s.kindBit[k][s.usedOf[k]]
	s.used[b/64] &^= 1 << (b % 64)
}

// expand lists the moves worth trying from the current configuration in
// state st: a pure operation legal now alone, if there is one; otherwise
// every definite operation that may come next and is legal, then the
// earliest unused indeterminate operation of each kind that may come next
// and would change the state.
func (s *search[S, I]) expand(st S) []child[S] {
	e := s.head.next
	for ; e != nil && e.call; e = e.next {
		in := s.ops[s.def[e.op]].Input
		if s.m.Pure != nil && s.m.Pure(in) {
			if next, ok := s.m.Step(st, in); ok {
				return []child[S]{{move: e.op, state: next}}
			}
		}
	}
	bound := int64(math.MaxInt64)
	if e != nil {
		bound = e.time
	}
	var out []child[S]
	for e := s.head.next; e != nil && e.call; e = e.next {
		if next, ok := s.m.Step(st, s.ops[s.def[e.op]].Input); ok {
			out = append(out, child[S]{move: e.op, state: next})
		}
	}
	for k, members := range s.kinds {
		u := s.usedOf[k]
		if u == len(members) || s.ops[members[u]].Call > bound {
			continue
		}
		if next, _ := s.m.Step(st, s.kindIn[k]); next != st {
			out = append(out, child[S]{move: -1 - k, state: next})
		}
	}
	return out
}

// visit looks the configuration reached (state st) up in the cache: it is
// pruned when it was seen before, or when one with the same placed
// operations and state, fewer indeterminate ones used, already failed.
// Otherwise it is remembered, while the cache has room.
func (s *search[S, I]) visit(st S) (*cacheEntry[S], bool) {
	h := s.hash ^ maphash.Comparable(s.seed, st)
	bucket := s.cache[h]
	for _, ce := range bucket {
		if ce.state != st || !slices.Equal(ce.placed, s.placed) {
			continue
		}
		if slices.Equal(ce.used, s.used) || (ce.done && subset(ce.used, s.used)) {
			return nil, true
		}
	}
	if s.wordsLeft < s.cacheWords {
		return nil, false
	}
	s.wordsLeft -= s.cacheWords
	ce := &cacheEntry[S]{placed: slices.Clone(s.placed), state: st, used: slices.Clone(s.used)}
	s.cache[h] = append(bucket, ce)
	return ce, false
}

// subset reports whether every bit of a is set in b.
func subset(a, b []uint64) bool {
	for i, w := range a {
		if w&^b[i] != 0 {
			return false
		}
	}
	return true
}

// run is the depth-first search.
func (s *search[S, I]) run(ctx context.Context, deadline time.Time) Outcome[S] {
	st := s.m.Init
	s.bestState = st
	if s.remaining == 0 {
		return Outcome[S]{Verdict: Linearizable, State: st}
	}
	root, _ := s.visit(st)
	stack := []frame[S]{{entry: root, children: s.expand(st)}}
	for iter := 1; ; iter++ {
		if iter%1024 == 0 && (ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline))) {
			return s.outcome(Unknown, s.best, s.bestState)
		}
		top := &stack[len(stack)-1]
		if top.next == len(top.children) {
			// Every move from here failed.
			if top.entry != nil {
				top.entry.done = true
			}
			if len(stack) == 1 {
				return s.outcome(NotLinearizable, s.best, s.bestState)
			}
			st = top.prevState
			s.undo(top.move)
			stack = stack[:len(stack)-1]
			continue
		}
		c := top.children[top.next]
		top.next++
		s.apply(c.move)
		if s.remaining == 0 {
			// The unused indeterminate operations go last, unobserved.
			return s.outcome(Linearizable, s.path, c.state)
		}
		ce, pruned := s.visit(c.state)
		if pruned {
			s.undo(c.move)
			continue
		}
		if n := len(s.def) - s.remaining; n > s.bestCount {
			s.bestCount, s.bestState = n, c.state
			s.best = append(s.best[:0], s.path...)
		}
		stack = append(stack, frame[S]{move: c.move, prevState: st, entry: ce, children: s.expand(c.state)})
		st = c.state
	}
}

func (s *search[S, I]) outcome(v Verdict, order []int, st S) Outcome[S] {
	n := 0
	for _, b := range s.cache {
		n += len(b)
	}
	return Outcome[S]{Verdict: v, Order: slices.Clone(order), State: st, Configurations: n}
}
