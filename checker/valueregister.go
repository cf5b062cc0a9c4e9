package checker

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/zkchaos/zkchaos/checker/linsearch"
	"github.com/zkchaos/zkchaos/history"
)

// ValueRegister checks Jepsen register histories for linearizability, key
// by key: reads return a value, writes set one and, with CAS, cas [old new]
// sets new only when the register holds old. It judges histories imported
// from Jepsen's history.edn, where registers carry values but no znode
// versions, with Jepsen's meaning of each completion, as Knossos does:
//
//   - :ok happened, with the result recorded;
//   - :fail did not happen, and says nothing more (its cause is not
//     recorded: a cas may fail on a timeout answered as a definite failure
//     while the register holds its expected value);
//   - :info may have happened, at any time after its invocation, or never.
//
// The order is the file's: an operation's call is its invocation record and
// its return its completion record; :time orders nothing. zkchaos's own runs
// use Linearizable, which also checks znode versions.
type ValueRegister struct {
	// CAS allows cas operations (Jepsen's cas-register model).
	CAS bool
	// Initial is the register's value before the history; nil means
	// Jepsen's nil (Knossos' own tests start from 0).
	Initial *int64
	// Budget bounds the search; when spent the verdict is Unknown. Zero
	// means one minute.
	Budget time.Duration
	// Draw adds Porcupine's visualization of every key that is not
	// linearizable, when Porcupine finishes it in a second (five in all).
	Draw bool
	// PorcupineOnly searches every key with Porcupine alone, on the same
	// operations with the same meaning but nothing left out beforehand, as
	// a reference for measurements.
	PorcupineOnly bool
}

// Name returns "cas-register" or "register".
func (v ValueRegister) Name() string {
	if v.CAS {
		return "cas-register"
	}
	return "register"
}

// MethodSearch is linsearch's exact search; MethodNeverWritten is a read or
// cas that expects a value no operation could have written, and
// MethodOverwritten one whose value every write of it was certainly
// overwritten since; MethodWindow a short stretch of the history that no
// state of the register explains.
const (
	MethodSearch       = "exact search"
	MethodNeverWritten = "value never written"
	MethodOverwritten  = "value overwritten"
	MethodWindow       = "no state explains a window"
)

// ValueRegisterDetails is the evidence of the ValueRegister checker.
type ValueRegisterDetails struct {
	// Model is "cas-register" or "register".
	Model string `json:"model"`
	// Initial is the register's value before the history.
	Initial string `json:"initial"`
	// Keys are the per-key results, sorted by key.
	Keys []KeyDetails `json:"keys"`
	// OKReads and OKWrites count the reads, and the writes and cas, that
	// completed ok.
	OKReads  int `json:"ok_reads"`
	OKWrites int `json:"ok_writes"`
	// NilReads counts the ok reads that returned nil: as in Knossos, their
	// value is unknown and they fit every state, so they are left out.
	NilReads int `json:"nil_reads,omitempty"`
	// Failed counts the operations left out because they failed.
	Failed int `json:"failed"`
	// Indeterminate counts the writes and cas that may or may not have
	// happened; Unobserved of them wrote a value that no operation read or
	// expected, so they cannot matter and were left out.
	Indeterminate int `json:"indeterminate"`
	Unobserved    int `json:"unobserved,omitempty"`
	// Configurations is how many configurations the searches explored.
	Configurations int `json:"configurations"`
}

// ModelError is a record that the chosen model cannot judge.
type ModelError struct {
	// Index is the record's index in the history.
	Index int64
	// Reason says what is wrong with it.
	Reason string
}

func (e *ModelError) Error() string { return e.Reason }

// valueOp is one operation of a value register: its input, and for a
// definite read the value it returned. It is comparable, so identical
// indeterminate operations are recognised as interchangeable.
type valueOp struct {
	f             byte // 'r', 'w' or 'c'
	value         int64
	old           int64 // a cas's expected value
	indeterminate bool
}

func valueStep(s int64, in valueOp) (int64, bool) {
	switch in.f {
	case 'r':
		return s, s == in.value
	case 'w':
		return in.value, true
	default:
		if s == in.old {
			return in.value, true
		}
		return s, in.indeterminate
	}
}

var valueSearchModel = linsearch.Model[int64, valueOp]{
	Step: valueStep,
	Pure: func(in valueOp) bool { return in.f == 'r' },
	Needs: func(in valueOp) (int64, bool) {
		switch in.f {
		case 'r':
			return in.value, true
		case 'c':
			return in.old, true
		}
		return 0, false
	},
}

func (in valueOp) String() string {
	switch in.f {
	case 'r':
		return "read " + describeValue(in.value)
	case 'w':
		return "write " + describeValue(in.value)
	}
	return fmt.Sprintf("cas %s→%s", describeValue(in.old), describeValue(in.value))
}

func describeValue(v int64) string {
	if v == history.EDNNil {
		return "nil"
	}
	return strconv.FormatInt(v, 10)
}

// valueKey is one key's history: its operations, with the records behind
// each.
type valueKey struct {
	key        string
	ops        []linsearch.Op[valueOp]
	calls      []history.Call
	unobserved int
}

// split validates the history and turns its calls into one history per key,
// sorted by key, with failed operations and indeterminate reads left out.
func (v ValueRegister) split(ops []history.Op) ([]*valueKey, ValueRegisterDetails, error) {
	d := ValueRegisterDetails{Model: v.Name(), Initial: describeValue(v.initial())}
	byKey := map[string]*valueKey{}
	for _, c := range history.Calls(ops) {
		inv, done := c.Invoke, c.Complete
		bad := func(format string, a ...any) error {
			return &ModelError{Index: inv.Index, Reason: fmt.Sprintf(format, a...)}
		}
		var in valueOp
		switch inv.F {
		case history.Read:
			in.f = 'r'
		case history.Write:
			if inv.Value == nil {
				return nil, d, bad("a write of %s, not of one integer", valueShape(*inv))
			}
			in.f, in.value = 'w', *inv.Value
		case history.CAS:
			if !v.CAS {
				return nil, d, bad("a cas, which the register model does not have (use the cas-register model)")
			}
			if len(inv.Values) != 2 {
				return nil, d, bad("a cas of %s, not of [old new]", valueShape(*inv))
			}
			in.f, in.old, in.value = 'c', inv.Values[0], inv.Values[1]
		default:
			return nil, d, bad(":%s is not an operation of the %s model (read, write%s)", inv.F, v.Name(), map[bool]string{true: ", cas"}[v.CAS])
		}
		switch done.Type {
		case history.OK:
			if in.f == 'r' {
				if done.Value == nil {
					return nil, d, bad("an ok read that returned %s, not one integer or nil", valueShape(*done))
				}
				if *done.Value == history.EDNNil {
					// Knossos' registers take a read of nil as a read
					// whose value is unknown: it fits every state.
					d.NilReads++
					continue
				}
				in.value = *done.Value
				d.OKReads++
			} else {
				d.OKWrites++
			}
		case history.Fail:
			d.Failed++
			continue // did not happen
		default:
			if in.f == 'r' {
				continue // changes nothing, and returned nothing
			}
			in.indeterminate = true
			d.Indeterminate++
		}
		k := byKey[inv.Key]
		if k == nil {
			k = &valueKey{key: inv.Key}
			byKey[inv.Key] = k
		}
		// The file's order is the real-time order; an indeterminate
		// operation returns after every record.
		ret := done.Index
		if ret < 0 || in.indeterminate {
			ret = int64(len(ops))
		}
		k.ops = append(k.ops, linsearch.Op[valueOp]{Call: inv.Index, Return: ret, Input: in, Indeterminate: in.indeterminate})
		k.calls = append(k.calls, c)
	}
	keys := make([]*valueKey, 0, len(byKey))
	for _, k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	return keys, d, nil
}

func valueShape(op history.Op) string {
	switch {
	case op.Values != nil:
		return fmt.Sprint(op.Values)
	case op.Value != nil:
		return describeValue(*op.Value)
	}
	return "nothing"
}

func (v ValueRegister) initial() int64 {
	if v.Initial == nil {
		return history.EDNNil
	}
	return *v.Initial
}

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

// Check judges each key independently, in parallel; Details is a
// ValueRegisterDetails. A history the model cannot judge is Unknown, with
// the reason.
func (v ValueRegister) Check(ctx context.Context, ops []history.Op) Result {
	r, err := v.Judge(ctx, ops)
	if err != nil {
		r.Verdict, r.Message = Unknown, fmt.Sprintf("record %d: %v; nothing was checked.", err.(*ModelError).Index+1, err)
	}
	return r
}

// Judge is Check for a caller that wants the first record the model cannot
// judge as a *ModelError (an operation other than read, write and, with CAS,
// cas; a cas without [old new]; a write or an ok read without a single
// value), with nothing checked.
func (v ValueRegister) Judge(ctx context.Context, ops []history.Op) (Result, error) {
	start := time.Now()
	r := Result{Checker: v.Name()}
	keys, d, err := v.split(ops)
	if err != nil {
		r.Duration = time.Since(start)
		return r, err
	}
	budget := v.Budget
	if budget <= 0 {
		budget = time.Minute
	}
	deadline := start.Add(budget)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}

	outcomes := make([]keyOutcome, len(keys))
	configs := make([]int, len(keys))
	draw := &drawBudget{left: drawTime}
	inParallel(len(keys), func(i int) {
		outcomes[i], configs[i] = v.checkKey(ctx, keys[i], deadline, draw)
	})

	var invalid, unfinished []KeyDetails
	n := 0
	for i, o := range outcomes {
		d.Configurations += configs[i]
		d.Unobserved += keys[i].unobserved
		d.Keys = append(d.Keys, o.details)
		n += o.details.Ops
		if o.visual != nil {
			r.Visualizations = append(r.Visualizations, *o.visual)
		}
		switch o.details.Verdict {
		case Invalid:
			invalid = append(invalid, o.details)
		case Unknown:
			unfinished = append(unfinished, o.details)
		}
	}
	r.Details = d
	r.Duration = time.Since(start)
	left := fmt.Sprintf("%d failed operations left out (they did not happen)", d.Failed)
	if d.NilReads > 0 {
		left += fmt.Sprintf(", %s left out (a read of nil is a read of an unknown value, as in Knossos)", plural(d.NilReads, "ok read of nil", "ok reads of nil"))
	}
	if d.Unobserved > 0 {
		left += fmt.Sprintf(", %s that wrote a value nobody read or expected left out", plural(d.Unobserved, "indeterminate write", "indeterminate writes"))
	}
	switch {
	case len(invalid) > 0:
		r.Verdict = Invalid
		first := invalid[0]
		switch {
		case len(keys) == 1 && first.Key == "":
			r.Message = fmt.Sprintf("The register is not linearizable: %s.", first.Explanation)
		case len(keys) == 1:
			r.Message = fmt.Sprintf("Key %s is not linearizable: %s.", first.Key, first.Explanation)
		default:
			r.Message = fmt.Sprintf("%d of %d keys are not linearizable (%s); key %s: %s.", len(invalid), len(keys), keyList(invalid), first.Key, first.Explanation)
		}
	case len(unfinished) > 0:
		r.Verdict = Unknown
		r.Message = fmt.Sprintf("The %s budget ran out before %d of %d keys were decided (%s); no violation was found in the others.",
			budget, len(unfinished), len(keys), keyList(unfinished))
		if ctx.Err() != nil {
			r.Message = fmt.Sprintf("The check was cancelled before %d of %d keys were decided (%s); no violation was found in the others.",
				len(unfinished), len(keys), keyList(unfinished))
		}
	default:
		r.Verdict = Valid
		r.Message = fmt.Sprintf("All %d operations on %s are linearizable (%d ok reads, %d ok writes, %d indeterminate; %s).",
			n, plural(len(keys), "key", "keys"), d.OKReads, d.OKWrites, d.Indeterminate, left)
		switch {
		case d.OKWrites == 0 && d.OKReads == 0:
			r.Message += " The history exercised nothing: no operation completed ok."
		case d.OKWrites == 0:
			r.Message += " It exercised little: no write completed ok."
		case d.OKReads == 0:
			r.Message += " It exercised little: no read completed ok."
		}
	}
	return r, nil
}

// checkKey decides one key: a read or cas of a value no operation could
// have written is a violation on its face; otherwise the exact search
// decides. A key found not linearizable is explained, and visualized when
// Porcupine can draw it within a few seconds.
func (v ValueRegister) checkKey(ctx context.Context, k *valueKey, deadline time.Time, draw *drawBudget) (keyOutcome, int) {
	start := time.Now()
	if v.PorcupineOnly {
		return v.porcupineKey(k, deadline), 0
	}
	keepObserved(k)
	d := KeyDetails{Key: k.key, Ops: len(k.ops), Verdict: Unknown}
	for _, op := range k.ops {
		if op.Indeterminate {
			d.InfoOps++
		}
	}
	done := func(o keyOutcome) keyOutcome {
		o.details.Duration = time.Since(start)
		return o
	}
	if i, method, why, ok := v.impossibleRead(k); ok {
		d.Verdict, d.Method = Invalid, method
		d.Explanation = describeValueCall(k, i) + ", but " + why
		d.NeverLinearized = describeValueCall(k, i)
		return done(keyOutcome{details: d, visual: v.visualize(k, k.ops[i].Return, deadline, draw)}), 0
	}
	// The whole search decides most histories at once. One it cannot
	// decide in a second is usually not linearizable with a violation far
	// from where the search spends its time: look for it in small windows,
	// then search the whole again with what is left.
	m := valueSearchModel
	m.Init = v.initial()
	d.Method = MethodSearch
	configs := 0
	first := time.Now().Add(min(time.Second, time.Until(deadline)/4))
	out := linsearch.Check(ctx, m, k.ops, linsearch.Options{Deadline: first})
	configs += out.Configurations
	if out.Verdict == linsearch.Unknown && ctx.Err() == nil {
		windows := time.Now().Add(min(time.Second, time.Until(deadline)/4))
		if w, tried, ok := refuteLocally(ctx, k, frontier(k, out), windows); ok {
			d.Verdict, d.Method = Invalid, MethodWindow
			explainWindow(&d, k, w)
			return done(keyOutcome{details: d, visual: v.visualize(k, k.ops[w[len(w)-1]].Return, deadline, draw)}), configs + tried
		} else {
			configs += tried
		}
		out = linsearch.Check(ctx, m, k.ops, linsearch.Options{Deadline: deadline})
		configs += out.Configurations
	}
	switch out.Verdict {
	case linsearch.Linearizable:
		d.Verdict = Valid
		return done(keyOutcome{details: d}), configs
	case linsearch.Unknown:
		d.Explanation = "the budget ran out before the search finished"
		return done(keyOutcome{details: d}), configs
	}
	d.Verdict = Invalid
	explainValue(&d, k, out)
	return done(keyOutcome{details: d, visual: v.visualize(k, math.MaxInt64, deadline, draw)}), configs
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

// explainWindow says which stretch of the history no state explains.
func explainWindow(d *KeyDetails, k *valueKey, w []int) {
	first, last := k.calls[w[0]], k.calls[w[len(w)-1]]
	descs := make([]string, len(w))
	for j, i := range w {
		descs[j] = describeValueCall(k, i)
	}
	d.NeverLinearized = descs[len(descs)-1]
	d.NotPlaceable = descs[:min(len(descs), maxNotPlaceable)]
	d.Explanation = fmt.Sprintf("the %d operations invoked and completed between records %d and %d cannot be ordered from any value the register could hold before them, whatever the operations around them did: %s",
		len(w), first.Invoke.Index+1, last.Complete.Index+1, listOps(descs))
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

// explainValue says why a key is not linearizable, from the longest prefix
// the search could linearize: the state it leaves, and the operations that
// could have come next but did not fit it.
func explainValue(d *KeyDetails, k *valueKey, out linsearch.Outcome[int64]) {
	placed := make([]bool, len(k.ops))
	definite := 0
	for _, i := range out.Order {
		placed[i] = true
		if !k.ops[i].Indeterminate {
			definite++
		}
	}
	total := 0
	bound := int64(-1)
	for i, op := range k.ops {
		if op.Indeterminate {
			continue
		}
		total++
		if !placed[i] && (bound < 0 || op.Return < bound) {
			bound = op.Return
		}
	}
	var next []int
	for i, op := range k.ops {
		if !placed[i] && !op.Indeterminate && op.Call <= bound {
			if _, ok := valueStep(out.State, op.Input); !ok {
				next = append(next, i)
			}
		}
	}
	sort.SliceStable(next, func(a, b int) bool { return k.ops[next[a]].Call < k.ops[next[b]].Call })
	descs := make([]string, len(next))
	for i, id := range next {
		descs[i] = describeValueCall(k, id)
	}
	d.LongestPrefix = len(out.Order)
	d.StateAfterPrefix = describeValue(out.State)
	d.NotPlaceable = descs[:min(len(descs), maxNotPlaceable)]
	if len(next) > 0 {
		d.NeverLinearized = descs[0]
	}
	d.Explanation = fmt.Sprintf("no order of the operations fits the register; the longest linearizable prefix places %d of %d definite operations and leaves the register at %s, and none of these fits next: %s",
		definite, total, describeValue(out.State), listOps(descs))
}

// describeValueCall renders one operation with its process and records,
// e.g. "process 3: read 5 (records 12-14)".
func describeValueCall(k *valueKey, i int) string {
	c, op := k.calls[i], k.ops[i]
	when := fmt.Sprintf("records %d-%d", c.Invoke.Index+1, c.Complete.Index+1)
	if op.Indeterminate {
		when = fmt.Sprintf("record %d, never confirmed", c.Invoke.Index+1)
	}
	return fmt.Sprintf("process %s: %s (%s)", c.Invoke.Process, op.Input, when)
}

// porcupineKey decides one key with Porcupine alone.
func (v ValueRegister) porcupineKey(k *valueKey, deadline time.Time) keyOutcome {
	start := time.Now()
	d := KeyDetails{Key: k.key, Ops: len(k.ops), Verdict: Unknown, Method: MethodPorcupine}
	switch porcupine.CheckOperationsTimeout(v.porcupineModel(), v.porcupineOps(k), time.Until(deadline)) {
	case porcupine.Ok:
		d.Verdict = Valid
	case porcupine.Illegal:
		d.Verdict = Invalid
		d.Explanation = "Porcupine found no linearization"
	default:
		d.Explanation = "the budget ran out before the search finished"
	}
	d.Duration = time.Since(start)
	return keyOutcome{details: d}
}

// porcupineOps are a key's operations for Porcupine (an indeterminate one
// already returns after every record: see split).
func (v ValueRegister) porcupineOps(k *valueKey) []porcupine.Operation {
	pops := make([]porcupine.Operation, len(k.ops))
	for i, op := range k.ops {
		pops[i] = porcupine.Operation{ClientId: int(k.calls[i].Invoke.Process), Input: op.Input, Call: op.Call, Return: op.Return, Metadata: k.calls[i]}
	}
	return pops
}

// drawTime bounds the time Porcupine spends drawing the keys of one check
// that are not linearizable, and drawKeyTime one key: the verdict never
// waits on a picture.
const (
	drawTime    = 5 * time.Second
	drawKeyTime = time.Second
)

// drawBudget is what is left of drawTime, shared by the keys of a check.
type drawBudget struct {
	mu   sync.Mutex
	left time.Duration
}

// take reserves up to drawKeyTime, and give returns what was not used.
func (b *drawBudget) take() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := min(b.left, drawKeyTime)
	b.left -= t
	return t
}

func (b *drawBudget) give(t time.Duration) {
	b.mu.Lock()
	b.left += max(t, 0)
	b.mu.Unlock()
}

// visualize draws a key that is not linearizable with Porcupine, when its
// search finishes within the drawing budget (the verdict does not depend
// on it). Only operations invoked up to until are drawn: a violation on the
// face of the history is already one in the prefix that ends with it.
func (v ValueRegister) visualize(k *valueKey, until int64, deadline time.Time, budget *drawBudget) *Visualization {
	if !v.Draw {
		return nil
	}
	sub := &valueKey{key: k.key}
	for i, op := range k.ops {
		if op.Call <= until {
			sub.ops, sub.calls = append(sub.ops, op), append(sub.calls, k.calls[i])
		}
	}
	if len(sub.ops) > confirmMaxOps {
		return nil
	}
	granted := budget.take()
	timeout := min(granted, time.Until(deadline))
	if timeout <= 0 {
		budget.give(granted)
		return nil
	}
	start := time.Now()
	model := v.porcupineModel()
	res, info := porcupine.CheckOperationsVerbose(model, v.porcupineOps(sub), timeout)
	budget.give(granted - time.Since(start))
	if res != porcupine.Illegal {
		return nil
	}
	var buf strings.Builder
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return nil
	}
	title := "the register (not linearizable)"
	if k.key != "" {
		title = "key " + k.key + " (not linearizable)"
	}
	return &Visualization{Title: title, HTML: []byte(buf.String())}
}

// porcupineModel is the value register for Porcupine's visualization.
func (v ValueRegister) porcupineModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return v.initial() },
		Step: func(state, input, _ any) (bool, any) {
			next, ok := valueStep(state.(int64), input.(valueOp))
			return ok, next
		},
		DescribeOperation: func(input, _ any) string {
			in := input.(valueOp)
			if in.indeterminate {
				return in.String() + " (indeterminate)"
			}
			return in.String()
		},
		DescribeState: func(state any) string { return describeValue(state.(int64)) },
		DescribeOperationMetadata: func(meta any) string {
			c := meta.(history.Call)
			return fmt.Sprintf("process %s, records %d and %d", c.Invoke.Process, c.Invoke.Index+1, c.Complete.Index+1)
		},
	}
}
