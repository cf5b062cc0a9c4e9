package linearizable

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/checker/linsearch"
)

// pruneUnobserved leaves out the indeterminate writes and cas whose written
// value no operation read or expected: wherever such an operation took
// effect, what came after it until the next write saw nothing of it, so a
// history is linearizable with it exactly when it is without it. Leaving
// out a cas may leave its expected value unobserved too: repeat. It returns
// the indices of the operations kept, in order.
func pruneUnobserved(ops []linsearch.Op[valueOp]) []int {
	kept := make([]int, len(ops))
	for i := range kept {
		kept[i] = i
	}
	for {
		observed := map[int64]bool{}
		for _, i := range kept {
			switch in := ops[i].Input; in.f {
			case 'r':
				observed[in.value] = true
			case 'c':
				observed[in.old] = true
			}
		}
		n := 0
		for _, i := range kept {
			if !ops[i].Indeterminate || observed[ops[i].Input.value] {
				kept[n] = i
				n++
			}
		}
		if n == len(kept) {
			return kept
		}
		kept = kept[:n]
	}
}

// keepObserved leaves out of k what pruneUnobserved finds cannot matter.
func keepObserved(k *valueKey) {
	kept := pruneUnobserved(k.ops)
	for n, i := range kept {
		k.ops[n], k.calls[n] = k.ops[i], k.calls[i]
	}
	k.unobserved += len(k.ops) - len(kept)
	k.ops, k.calls = k.ops[:len(kept)], k.calls[:len(kept)]
}

// refuteLocally looks for a short stretch of the history that no state of
// the register can explain. A window ends just after an ok read or cas and
// starts some operations before it; inside it, operations invoked and
// completed within it must happen, those that straddle one of its edges, and
// every indeterminate one invoked before its end, may or may not, and the
// register may hold anything at its start. In any linearization of the whole
// history the stretch from the last operation completed before the window to
// the last one inside it is such an order, so a window with none proves
// that the history has none. It returns the window's definite operations
// (indices into k.ops, by call) and how many configurations it tried.
//
// Windows are tried first where the search of the whole history got stuck
// (at call time from), then farther and farther from it.
func refuteLocally(ctx context.Context, k *valueKey, from int64, deadline time.Time) ([]int, int, bool) {
	var def []int
	for i, op := range k.ops {
		if !op.Indeterminate {
			def = append(def, i)
		}
	}
	sort.SliceStable(def, func(a, b int) bool { return k.ops[def[a]].Call < k.ops[def[b]].Call })
	positions := make([]int, 0, len(def))
	for at, j := range def {
		if k.ops[j].Input.f != 'w' {
			positions = append(positions, at)
		}
	}
	dist := func(at int) int64 {
		d := k.ops[def[at]].Call - from
		if d < 0 {
			return -d
		}
		return d
	}
	sort.SliceStable(positions, func(a, b int) bool { return dist(positions[a]) < dist(positions[b]) })
	tried := 0
	for _, at := range positions {
		j := def[at]
		for _, width := range []int{3, 8, 32} {
			if ctx.Err() != nil || time.Now().After(deadline) {
				return nil, tried, false
			}
			lo := max(0, at-width)
			c1, c2 := k.ops[def[lo]].Call, k.ops[j].Return+1
			var window []linsearch.Op[valueOp]
			var inside []int
			for i, op := range k.ops {
				switch {
				case op.Indeterminate && op.Call < c2:
				case op.Indeterminate || op.Return < c1 || op.Call >= c2:
					continue
				case op.Call >= c1 && op.Return < c2:
					inside = append(inside, i)
				case op.Input.f == 'r':
					continue // a read that may not have happened changes nothing
				default:
					op.Indeterminate, op.Input.indeterminate = true, true
				}
				window = append(window, op)
			}
			kept := pruneUnobserved(window)
			for n, i := range kept {
				window[n] = window[i]
			}
			window = window[:len(kept)]
			values := map[int64]bool{}
			for _, op := range window {
				values[op.Input.value] = true
				if op.Input.f == 'c' {
					values[op.Input.old] = true
				}
			}
			// A state no operation in the window mentions stands for all
			// of them: each behaves the same in every such state.
			other := int64(math.MinInt64 + 1)
			for values[other] {
				other++
			}
			values[other] = true
			refuted := true
			for s := range values {
				m := valueSearchModel
				m.Init = s
				out := linsearch.Check(ctx, m, window, linsearch.Options{Deadline: deadline})
				tried += out.Configurations
				if out.Verdict != linsearch.NotLinearizable {
					refuted = false
					break
				}
			}
			if refuted {
				sort.SliceStable(inside, func(a, b int) bool { return k.ops[inside[a]].Call < k.ops[inside[b]].Call })
				return inside, tried, true
			}
			if lo == 0 {
				break
			}
		}
	}
	return nil, tried, false
}

// frontier is where a search that did not finish got stuck: the call time
// of the earliest definite operation its longest prefix left out.
func frontier(k *valueKey, out linsearch.Outcome[int64]) int64 {
	placed := make([]bool, len(k.ops))
	for _, i := range out.Order {
		placed[i] = true
	}
	at := int64(math.MaxInt64)
	for i, op := range k.ops {
		if !placed[i] && !op.Indeterminate {
			at = min(at, op.Call)
		}
	}
	return at
}

// impossibleRead finds an ok read, or an ok cas, whose value the register
// cannot have held: no operation that may have happened wrote it and the
// register did not start at it; or every operation that wrote it (and the
// initial state, if it held it) was certainly followed, before the read
// began, by an acknowledged write or cas of another value. Either is a
// violation on its face, whatever else the history holds. It returns the
// operation's index, MethodNeverWritten or MethodOverwritten, and why; it
// takes O(n log n) time.
func (v ValueRegister) impossibleRead(k *valueKey) (int, string, string, bool) {
	// The producers of each value, by call, with the latest return among
	// the first i of them; the initial state is a producer that returned
	// before anything.
	type producer struct {
		call, ret  int64
		latest     int64 // greatest ret among producers up to this one
		latestFrom int   // and whose it is: an index into k.ops, or -1
	}
	producers := map[int64][]producer{v.initial(): {{call: -1, ret: -1, latest: -1, latestFrom: -1}}}
	var setters []int // definite writes and cas: they certainly set the register
	order := make([]int, len(k.ops))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return k.ops[order[a]].Call < k.ops[order[b]].Call })
	for _, i := range order {
		op := k.ops[i]
		if op.Input.f == 'r' {
			continue
		}
		ret := op.Return
		if op.Indeterminate {
			ret = math.MaxInt64
		} else {
			setters = append(setters, i)
		}
		ps := producers[op.Input.value]
		p := producer{call: op.Call, ret: ret, latest: ret, latestFrom: i}
		if n := len(ps); n > 0 && ps[n-1].latest > ret {
			p.latest, p.latestFrom = ps[n-1].latest, ps[n-1].latestFrom
		}
		producers[op.Input.value] = append(ps, p)
	}
	sort.SliceStable(setters, func(a, b int) bool { return k.ops[setters[a]].Return < k.ops[setters[b]].Return })

	// The consumers, by call; for each, the latest-invoked setter of each
	// of two distinct values among those that returned before it began.
	var consumers []int
	for _, i := range order {
		if op := k.ops[i]; !op.Indeterminate && op.Input.f != 'w' {
			consumers = append(consumers, i)
		}
	}
	best := [2]int{-1, -1} // indices into k.ops, best[0] invoked last
	next := 0
	for _, i := range consumers {
		r := k.ops[i]
		for ; next < len(setters) && k.ops[setters[next]].Return < r.Call; next++ {
			best = better(k, best, setters[next])
		}
		want := r.Input.value
		if r.Input.f == 'c' {
			want = r.Input.old
		}
		// The latest producer of want invoked before the consumer
		// returned, itself excluded.
		ps := producers[want]
		n := sort.Search(len(ps), func(j int) bool { return ps[j].call >= r.Return })
		if n > 0 && ps[n-1].latestFrom == i {
			n-- // a cas from and to the same value cannot produce itself
		}
		if n == 0 {
			return i, MethodNeverWritten, fmt.Sprintf("no operation wrote %s and the register did not start at it", describeValue(want)), true
		}
		w := best[0]
		if w >= 0 && k.ops[w].Input.value == want {
			w = best[1]
		}
		if w < 0 || ps[n-1].latest >= k.ops[w].Call {
			continue
		}
		last := "the initial value"
		if from := ps[n-1].latestFrom; from >= 0 {
			last = "the last write of it, " + describeValueCall(k, from) + ","
		}
		return i, MethodOverwritten, fmt.Sprintf("%s was overwritten before the read began: %s completed before it, and after %s completed",
			describeValue(want), describeValueCall(k, w), last), true
	}
	return 0, "", "", false
}

// better keeps, among setters, the one invoked last and the one invoked
// last among those of another value.
func better(k *valueKey, best [2]int, i int) [2]int {
	call := func(j int) int64 {
		if j < 0 {
			return math.MinInt64
		}
		return k.ops[j].Call
	}
	val := func(j int) int64 { return k.ops[j].Input.value }
	switch {
	case call(i) > call(best[0]):
		if best[0] >= 0 && val(best[0]) != val(i) {
			best[1] = best[0]
		}
		best[0] = i
	case val(i) != val(best[0]) && call(i) > call(best[1]):
		best[1] = i
	}
	return best
}
