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
// of reach. This search knows four facts that make those histories easy:
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
//   - Needed or nothing: in a model where an operation is either legal in one
//     state only or overwrites the state (a register), a block of
//     indeterminate operations followed by a definite operation that was
//     legal without the block can be taken out (moved to the end) with no
//     change to anything after it, and so can a step of a block to a state
//     no operation needs; so indeterminate operations are tried only when
//     the next definite operation needs them, and only through needed
//     states.
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
	// Needs, when set, says of every operation either the one state in
	// which it is legal (for an indeterminate one: in which it changes the
	// state), or, with false, that it is legal in every state and leaves
	// the same state whatever came before (a write that overwrites). A
	// register has it. Then indeterminate operations are tried only in
	// blocks that lead, step by step through states some operation needs,
	// to a state in which the next definite operation is legal and was not
	// before: any other placement can be taken out without changing what
	// anyone observed.
	Needs func(in I) (S, bool)
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
// position, and the indeterminate ones used; key files it in search.failed
// once every continuation from it failed.
type cacheEntry[S comparable] struct {
	placed []uint64
	at     pos[S]
	used   []uint64
	key    uint64 // in search.failed
}

// child is a move from a configuration: an operation (definite d >= 0, or
// indeterminate kind k as -1-k) and where it leads.
type child[S comparable] struct {
	move int
	to   pos[S]
}

// frame is a configuration on the search's path: how it was reached, and
// the moves from it, tried in order.
type frame[S comparable] struct {
	move     int // the move that led here; 0 at the root is unused
	prev     pos[S]
	entry    *cacheEntry[S]
	children []child[S]
	next     int
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
	usedHash   uint64 // of used
	zobrist    []uint64
	zobristUse []uint64
	seed       maphash.Seed
	// cache holds every configuration seen, by placed, position and used;
	// failed holds those that failed, by placed and position, to find one
	// that used fewer indeterminate operations.
	cache      map[uint64][]*cacheEntry[S]
	failed     map[uint64][]*cacheEntry[S]
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
	s := &search[S, I]{m: m, ops: ops, seed: maphash.MakeSeed(), cache: map[uint64][]*cacheEntry[S]{}, failed: map[uint64][]*cacheEntry[S]{}}
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
	s.zobristUse = make([]uint64, s.nIndet)
	for i := range s.zobristUse {
		s.zobristUse[i] = rng.Uint64()
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
	s.usedHash ^= s.zobristUse[b]
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
	s.usedHash ^= s.zobristUse[b]
}

// pos is where a configuration stands: the object's state and, inside a
// block of indeterminate operations, the state the block started from.
type pos[S comparable] struct {
	st      S
	inBlock bool
	from    S
}

// expand lists the moves worth trying from the current configuration: a
// pure operation legal now alone, if there is one; otherwise every definite
// operation that may come next and is legal, then the earliest unused
// indeterminate operation of each kind that may come next and would change
// the state. With Model.Needs, indeterminate operations come in blocks that
// end with a definite operation they made legal.
func (s *search[S, I]) expand(p pos[S]) []child[S] {
	e := s.head.next
	if !p.inBlock {
		for ; e != nil && e.call; e = e.next {
			in := s.ops[s.def[e.op]].Input
			if s.m.Pure != nil && s.m.Pure(in) {
				if next, ok := s.m.Step(p.st, in); ok {
					return []child[S]{{move: e.op, to: pos[S]{st: next}}}
				}
			}
		}
	} else {
		for e != nil && e.call {
			e = e.next
		}
	}
	bound := int64(math.MaxInt64)
	if e != nil {
		bound = e.time
	}
	var out []child[S]
	blocks := s.m.Needs != nil
	from := p.st
	if p.inBlock {
		from = p.from
	}
	// The states a block may pass through: those the definite operations
	// it could end with need, then, back from them, those from which an
	// indeterminate operation that needs a state leads into them. A step
	// to any other state is undone by the next step (which overwrites it,
	// since it needs nothing) or leads nowhere.
	var targets []S
	for e := s.head.next; e != nil && e.call; e = e.next {
		in := s.ops[s.def[e.op]].Input
		next, ok := s.m.Step(p.st, in)
		if blocks {
			if _, before := s.m.Step(from, in); !before {
				if need, ok := s.m.Needs(in); ok {
					targets = append(targets, need)
				}
			} else if p.inBlock {
				continue // legal without the block: the block was not needed
			}
		}
		if ok {
			out = append(out, child[S]{move: e.op, to: pos[S]{st: next}})
		}
	}
	if blocks && len(targets) == 0 {
		return out
	}
	var eligible []int
	for k, members := range s.kinds {
		u := s.usedOf[k]
		if u == len(members) || s.ops[members[u]].Call > bound {
			continue
		}
		eligible = append(eligible, k)
	}
	for grew := blocks; grew; {
		grew = false
		for _, k := range eligible {
			in := s.kindIn[k]
			if need, ok := s.m.Needs(in); ok && !slices.Contains(targets, need) {
				if next, _ := s.m.Step(need, in); slices.Contains(targets, next) {
					targets, grew = append(targets, need), true
				}
			}
		}
	}
	for _, k := range eligible {
		next, _ := s.m.Step(p.st, s.kindIn[k])
		if next == p.st || (blocks && (next == from || !slices.Contains(targets, next))) {
			continue // changes nothing, undoes the block, or leads nowhere needed
		}
		to := pos[S]{st: next}
		if blocks {
			to.inBlock, to.from = true, from
		}
		out = append(out, child[S]{move: -1 - k, to: to})
	}
	return out
}

// dominanceScan bounds how many failed configurations with the same placed
// operations and position are compared with a new one: pruning less is
// always sound, and the lists can grow long.
const dominanceScan = 16

// visit looks the configuration reached (at p) up in the cache: it is
// pruned when it was seen before, or when one with the same placed
// operations and position, fewer indeterminate ones used, already failed.
// Otherwise it is remembered, while the cache has room.
func (s *search[S, I]) visit(p pos[S]) (*cacheEntry[S], bool) {
	at := s.hash ^ maphash.Comparable(s.seed, p)
	h := at ^ s.usedHash
	bucket := s.cache[h]
	for _, ce := range bucket {
		if ce.at == p && slices.Equal(ce.placed, s.placed) && slices.Equal(ce.used, s.used) {
			return nil, true
		}
	}
	failed := s.failed[at]
	for i := len(failed) - 1; i >= max(0, len(failed)-dominanceScan); i-- {
		ce := failed[i]
		if ce.at == p && slices.Equal(ce.placed, s.placed) && subset(ce.used, s.used) {
			return nil, true
		}
	}
	if s.wordsLeft < s.cacheWords {
		return nil, false
	}
	s.wordsLeft -= s.cacheWords
	ce := &cacheEntry[S]{placed: slices.Clone(s.placed), at: p, used: slices.Clone(s.used), key: at}
	s.cache[h] = append(bucket, ce)
	return ce, false
}

// fail records that every continuation from ce failed.
func (s *search[S, I]) fail(ce *cacheEntry[S]) {
	if ce != nil && s.nIndet > 0 {
		s.failed[ce.key] = append(s.failed[ce.key], ce)
	}
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
	at := pos[S]{st: s.m.Init}
	s.bestState = at.st
	if s.remaining == 0 {
		return Outcome[S]{Verdict: Linearizable, State: at.st}
	}
	root, _ := s.visit(at)
	stack := []frame[S]{{entry: root, children: s.expand(at)}}
	for iter := 1; ; iter++ {
		if (iter == 1 || iter%1024 == 0) && (ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline))) {
			return s.outcome(Unknown, s.best, s.bestState)
		}
		top := &stack[len(stack)-1]
		if top.next == len(top.children) {
			// Every move from here failed.
			s.fail(top.entry)
			if len(stack) == 1 {
				return s.outcome(NotLinearizable, s.best, s.bestState)
			}
			at = top.prev
			s.undo(top.move)
			stack = stack[:len(stack)-1]
			continue
		}
		c := top.children[top.next]
		top.next++
		s.apply(c.move)
		if s.remaining == 0 {
			// The unused indeterminate operations go last, unobserved.
			return s.outcome(Linearizable, s.path, c.to.st)
		}
		ce, pruned := s.visit(c.to)
		if pruned {
			s.undo(c.move)
			continue
		}
		if n := len(s.def) - s.remaining; n > s.bestCount {
			s.bestCount, s.bestState = n, c.to.st
			s.best = append(s.best[:0], s.path...)
		}
		stack = append(stack, frame[S]{move: c.move, prev: at, entry: ce, children: s.expand(c.to)})
		at = c.to
	}
}

func (s *search[S, I]) outcome(v Verdict, order []int, st S) Outcome[S] {
	n := 0
	for _, b := range s.cache {
		n += len(b)
	}
	return Outcome[S]{Verdict: v, Order: slices.Clone(order), State: st, Configurations: n}
}
