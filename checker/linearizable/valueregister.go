package linearizable

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zkchaos/zkchaos/checker"
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
// use Checker, which also checks znode versions.
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

// Error returns Reason.
func (e *ModelError) Error() string { return e.Reason }

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
// records is how many records the whole history holds, of which ops may be
// one key's.
func (v ValueRegister) split(ops []history.Op, records int) ([]*valueKey, ValueRegisterDetails, error) {
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
			ret = int64(records)
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

// Check judges each key independently, in parallel; Details is a
// ValueRegisterDetails. A history the model cannot judge is Unknown, with
// the reason.
func (v ValueRegister) Check(ctx context.Context, ops []history.Op) checker.Result {
	r, err := v.Judge(ctx, ops)
	if err != nil {
		r.Verdict, r.Message = checker.Unknown, fmt.Sprintf("record %d: %v; nothing was checked.", err.(*ModelError).Index+1, err)
	}
	return r
}

// Judge is Check for a caller that wants the first record the model cannot
// judge as a *ModelError (an operation other than read, write and, with CAS,
// cas; a cas without [old new]; a write or an ok read without a single
// value), with nothing checked.
func (v ValueRegister) Judge(ctx context.Context, ops []history.Op) (checker.Result, error) {
	start := time.Now()
	keys, d, err := v.split(ops, len(ops))
	if err != nil {
		return checker.Result{Checker: v.Name(), Duration: time.Since(start)}, err
	}
	deadline := v.deadline(ctx, start)
	outcomes := make([]keyOutcome, len(keys))
	configs := make([]int, len(keys))
	draw := &drawBudget{left: drawTime}
	inParallel(len(keys), func(i int) {
		outcomes[i], configs[i] = v.checkKey(ctx, keys[i], deadline, draw)
	})
	for i, k := range keys {
		d.Configurations += configs[i]
		d.Unobserved += k.unobserved
	}
	return v.conclude(ctx, start, d, outcomes), nil
}

// JudgeSplit is Judge for a history split by key: it loads the keys one at
// a time on each core, so that memory holds a few keys, not the history.
func (v ValueRegister) JudgeSplit(ctx context.Context, s *history.Split) (checker.Result, error) {
	start := time.Now()
	deadline := v.deadline(ctx, start)
	names := s.Keys()
	draw := &drawBudget{left: drawTime}
	var (
		mu       sync.Mutex
		d        = ValueRegisterDetails{Model: v.Name(), Initial: describeValue(v.initial())}
		outcomes []keyOutcome
		first    error // the error of the lowest record, as split finds it
	)
	inParallel(len(names), func(i int) {
		ops, err := s.Load(names[i])
		var keys []*valueKey
		var kd ValueRegisterDetails
		if err == nil {
			keys, kd, err = v.split(ops, int(s.Records))
		}
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			var me, other *ModelError
			if first == nil || (errors.As(err, &me) && errors.As(first, &other) && me.Index < other.Index) {
				first = err
			}
			return
		}
		for _, k := range keys {
			o, configs := v.checkKey(ctx, k, deadline, draw)
			mu.Lock()
			outcomes = append(outcomes, o)
			kd.Configurations += configs
			kd.Unobserved += k.unobserved
			mu.Unlock()
		}
		mu.Lock()
		defer mu.Unlock()
		d.OKReads += kd.OKReads
		d.OKWrites += kd.OKWrites
		d.NilReads += kd.NilReads
		d.Failed += kd.Failed
		d.Indeterminate += kd.Indeterminate
		d.Unobserved += kd.Unobserved
		d.Configurations += kd.Configurations
	})
	if first != nil {
		return checker.Result{Checker: v.Name(), Duration: time.Since(start)}, first
	}
	slices.SortFunc(outcomes, func(a, b keyOutcome) int { return strings.Compare(a.details.Key, b.details.Key) })
	return v.conclude(ctx, start, d, outcomes), nil
}

// deadline is when the budget, counted from start, runs out.
func (v ValueRegister) deadline(ctx context.Context, start time.Time) time.Time {
	deadline := start.Add(v.budget())
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	return deadline
}

// budget is the search's budget: one minute unless set.
func (v ValueRegister) budget() time.Duration {
	if v.Budget <= 0 {
		return time.Minute
	}
	return v.Budget
}

// conclude judges the history from its keys' outcomes, sorted by key.
func (v ValueRegister) conclude(ctx context.Context, start time.Time, d ValueRegisterDetails, outcomes []keyOutcome) checker.Result {
	r := checker.Result{Checker: v.Name()}
	budget := v.budget()
	var invalid, unfinished []KeyDetails
	n := 0
	for _, o := range outcomes {
		d.Keys = append(d.Keys, o.details)
		n += o.details.Ops
		if o.visual != nil {
			r.Visualizations = append(r.Visualizations, *o.visual)
		}
		switch o.details.Verdict {
		case checker.Invalid:
			invalid = append(invalid, o.details)
		case checker.Unknown:
			unfinished = append(unfinished, o.details)
		}
	}
	r.Details = d
	r.Duration = time.Since(start)
	left := fmt.Sprintf("%d failed operations left out (they did not happen)", d.Failed)
	if d.NilReads > 0 {
		left += fmt.Sprintf(", %s left out (a read of nil is a read of an unknown value, as in Knossos)", checker.Plural(d.NilReads, "ok read of nil", "ok reads of nil"))
	}
	if d.Unobserved > 0 {
		left += fmt.Sprintf(", %s that wrote a value nobody read or expected left out", checker.Plural(d.Unobserved, "indeterminate write", "indeterminate writes"))
	}
	switch {
	case len(invalid) > 0:
		r.Verdict = checker.Invalid
		first := invalid[0]
		switch {
		case len(outcomes) == 1 && first.Key == "":
			r.Message = fmt.Sprintf("The register is not linearizable: %s.", first.Explanation)
		case len(outcomes) == 1:
			r.Message = fmt.Sprintf("Key %s is not linearizable: %s.", first.Key, first.Explanation)
		default:
			r.Message = fmt.Sprintf("%d of %d keys are not linearizable (%s); key %s: %s.", len(invalid), len(outcomes), keyList(invalid), first.Key, first.Explanation)
		}
	case len(unfinished) > 0:
		r.Verdict = checker.Unknown
		r.Message = fmt.Sprintf("The %s budget ran out before %d of %d keys were decided (%s); no violation was found in the others.",
			budget, len(unfinished), len(outcomes), keyList(unfinished))
		if ctx.Err() != nil {
			r.Message = fmt.Sprintf("The check was cancelled before %d of %d keys were decided (%s); no violation was found in the others.",
				len(unfinished), len(outcomes), keyList(unfinished))
		}
	default:
		r.Verdict = checker.Valid
		r.Message = fmt.Sprintf("All %d operations on %s are linearizable (%d ok reads, %d ok writes, %d indeterminate; %s).",
			n, checker.Plural(len(outcomes), "key", "keys"), d.OKReads, d.OKWrites, d.Indeterminate, left)
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
func (v ValueRegister) checkKey(ctx context.Context, k *valueKey, deadline time.Time, draw *drawBudget) (keyOutcome, int) {
	start := time.Now()
	if v.PorcupineOnly {
		return v.porcupineKey(k, deadline), 0
	}
	keepObserved(k)
	d := KeyDetails{Key: k.key, Ops: len(k.ops), Verdict: checker.Unknown}
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
		d.Verdict, d.Method = checker.Invalid, method
		d.Explanation = describeValueCall(k, i) + ", but " + why
		d.NeverLinearized = describeValueCall(k, i)
		d.cited = cite(roleNeverLinearized, k.invokedAt, i)
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
			d.Verdict, d.Method = checker.Invalid, MethodWindow
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
		d.Verdict = checker.Valid
		return done(keyOutcome{details: d}), configs
	case linsearch.Unknown:
		d.Explanation = "the budget ran out before the search finished"
		return done(keyOutcome{details: d}), configs
	}
	d.Verdict = checker.Invalid
	explainValue(&d, k, out)
	return done(keyOutcome{details: d, visual: v.visualize(k, math.MaxInt64, deadline, draw)}), configs
}
