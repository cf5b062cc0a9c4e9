package checker

import (
	"context"
	"fmt"
	"runtime"
	"slices"
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
}

// Name returns "cas-register" or "register".
func (v ValueRegister) Name() string {
	if v.CAS {
		return "cas-register"
	}
	return "register"
}

// MethodSearch is linsearch's exact search; MethodNeverWritten is a read or
// cas that expects a value no operation could have written.
const (
	MethodSearch       = "exact search"
	MethodNeverWritten = "value never written"
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

// Validate reports the first record the model cannot judge: an operation
// other than read, write and (with CAS) cas, a cas without [old new], a write
// or an ok read without a single value.
func (v ValueRegister) Validate(ops []history.Op) error {
	_, _, err := v.split(ops)
	return err
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
		// The file's order is the real-time order.
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
// out a cas may leave its expected value unobserved too: repeat.
func pruneUnobserved(k *valueKey) {
	for {
		observed := map[int64]bool{}
		for _, op := range k.ops {
			switch {
			case op.Input.f == 'r':
				observed[op.Input.value] = true
			case op.Input.f == 'c':
				observed[op.Input.old] = true
			}
		}
		n := 0
		for i, op := range k.ops {
			if op.Indeterminate && !observed[op.Input.value] {
				continue
			}
			k.ops[n], k.calls[n] = k.ops[i], k.calls[i]
			n++
		}
		if n == len(k.ops) {
			return
		}
		k.unobserved += len(k.ops) - n
		k.ops, k.calls = k.ops[:n], k.calls[:n]
	}
}

// Check judges each key independently, in parallel; Details is a
// ValueRegisterDetails. A history the model cannot judge is Unknown, with
// the reason (Validate tells it as an error).
func (v ValueRegister) Check(ctx context.Context, ops []history.Op) Result {
	start := time.Now()
	r := Result{Checker: v.Name()}
	keys, d, err := v.split(ops)
	if err != nil {
		r.Verdict, r.Message = Unknown, fmt.Sprintf("record %d: %v; nothing was checked.", err.(*ModelError).Index+1, err)
		r.Duration = time.Since(start)
		return r
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
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(runtime.GOMAXPROCS(0), len(keys)) {
		wg.Go(func() {
			for i := range work {
				o, configs := v.checkKey(ctx, keys[i], deadline, len(ops))
				outcomes[i] = o
				mu.Lock()
				d.Configurations += configs
				d.Unobserved += keys[i].unobserved
				mu.Unlock()
			}
		})
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()

	var invalid, unfinished []KeyDetails
	n := 0
	for _, o := range outcomes {
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
		if len(keys) == 1 {
			r.Message = fmt.Sprintf("Not linearizable: %s.", first.Explanation)
		} else {
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
	return r
}

// checkKey decides one key: a read or cas of a value no operation could
// have written is a violation on its face; otherwise the exact search
// decides. A key found not linearizable is explained, and visualized when
// Porcupine can draw it within a few seconds.
func (v ValueRegister) checkKey(ctx context.Context, k *valueKey, deadline time.Time, records int) (keyOutcome, int) {
	start := time.Now()
	pruneUnobserved(k)
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
	if i, ok := v.neverWritten(k); ok {
		d.Verdict, d.Method = Invalid, MethodNeverWritten
		in := k.ops[i].Input
		want := in.value
		if in.f == 'c' {
			want = in.old
		}
		d.Explanation = fmt.Sprintf("%s, but no operation wrote %s and the register did not start at it",
			describeValueCall(k, i), describeValue(want))
		d.NeverLinearized = describeValueCall(k, i)
		return done(keyOutcome{details: d, visual: v.visualize(k, deadline, records)}), 0
	}
	m := valueSearchModel
	m.Init = v.initial()
	out := linsearch.Check(ctx, m, k.ops, linsearch.Options{Deadline: deadline})
	d.Method = MethodSearch
	switch out.Verdict {
	case linsearch.Linearizable:
		d.Verdict = Valid
		return done(keyOutcome{details: d}), out.Configurations
	case linsearch.Unknown:
		d.Explanation = "the budget ran out before the search finished"
		return done(keyOutcome{details: d, unfinished: true}), out.Configurations
	}
	d.Verdict = Invalid
	explainValue(&d, k, out)
	return done(keyOutcome{details: d, visual: v.visualize(k, deadline, records)}), out.Configurations
}

// neverWritten finds an ok read, or a cas, of a value that neither the
// initial state nor any write or cas that may have happened holds.
func (v ValueRegister) neverWritten(k *valueKey) (int, bool) {
	written := map[int64]bool{v.initial(): true}
	for _, op := range k.ops {
		if op.Input.f != 'r' {
			written[op.Input.value] = true
		}
	}
	for i, op := range k.ops {
		switch {
		case op.Input.f == 'r' && !written[op.Input.value]:
			return i, true
		case op.Input.f == 'c' && !op.Indeterminate && !written[op.Input.old]:
			return i, true
		}
	}
	return 0, false
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
	const maxListed = 5
	listed := descs
	if len(listed) > maxListed {
		listed = append(slices.Clone(listed[:maxListed]), fmt.Sprintf("and %d more", len(descs)-maxListed))
	}
	d.LongestPrefix = len(out.Order)
	d.StateAfterPrefix = describeValue(out.State)
	d.NotPlaceable = descs[:min(len(descs), 20)]
	if len(next) > 0 {
		d.NeverLinearized = descs[0]
	}
	d.Explanation = fmt.Sprintf("no order of the operations fits the register; the longest linearizable prefix places %d of %d definite operations and leaves the register at %s, and none of these fits next: %s",
		definite, total, describeValue(out.State), strings.Join(listed, "; "))
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

// visualizeBudget bounds Porcupine's search for the picture of a key the
// exact search already decided.
const visualizeBudget = 5 * time.Second

// visualize draws a key that is not linearizable with Porcupine, when its
// search finishes within visualizeBudget (the verdict does not depend on it).
func (v ValueRegister) visualize(k *valueKey, deadline time.Time, records int) *Visualization {
	if len(k.ops) > confirmMaxOps {
		return nil
	}
	timeout := min(visualizeBudget, time.Until(deadline))
	if timeout <= 0 {
		return nil
	}
	pops := make([]porcupine.Operation, len(k.ops))
	for i, op := range k.ops {
		ret := op.Return
		if op.Indeterminate {
			ret = int64(records)
		}
		pops[i] = porcupine.Operation{ClientId: int(k.calls[i].Invoke.Process), Input: op.Input, Call: op.Call, Return: ret, Metadata: k.calls[i]}
	}
	model := v.porcupineModel()
	res, info := porcupine.CheckOperationsVerbose(model, pops, timeout)
	if res != porcupine.Illegal {
		return nil
	}
	var buf strings.Builder
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return nil
	}
	return &Visualization{Title: "key " + k.key + " (not linearizable)", HTML: []byte(buf.String())}
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
