// Package linearizable judges whether register histories are linearizable:
// the register workload's reads, writes and cas on znodes, decided from
// ZooKeeper's data versions where they suffice and by Porcupine's search
// where they do not (Checker), and Jepsen's register histories, which carry
// values but no versions (ValueRegister). Keys are judged independently and
// in parallel; a key that is not linearizable is explained in words and
// drawn as an HTML page with the faults of the run.
package linearizable

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// Read modes of the register workload.
const (
	// ReadPlain is a plain getData, served by the connected server.
	ReadPlain = "plain"
	// ReadSync is sync followed by getData: fresher, still not linearizable.
	ReadSync = "sync"
	// ReadQuorum is getData confirmed by a check-only multi: linearizable.
	ReadQuorum = "quorum"
)

// versionConflict is how go-zookeeper spells ErrBadVersion: the one failure
// of a cas that tells us something (the version differed), so it is kept.
const versionConflict = "version conflict"

// Checker checks that the register workload's operations on each key
// are linearizable, with Porcupine. Keys are checked independently and in
// parallel.
type Checker struct {
	// Budget bounds the search of keys that their version order does not
	// decide: counted from the check's start, or key by key (StartByKey)
	// as the time those searches took. A key whose search it cuts short is
	// Unknown, never Valid; what the version order proves needs none of it.
	// Zero means no limit other than the context.
	Budget time.Duration
	// ReadMode is how the workload read: "plain", "sync" or "quorum"; empty
	// means "plain". Only quorum reads are held to linearizability.
	ReadMode string
	// VisualizeAllBelow visualizes every key when the history has fewer
	// records than this; otherwise only keys that are not linearizable.
	VisualizeAllBelow int
	// PorcupineOnly skips the version order and searches every key with
	// Porcupine, as a reference for measurements.
	PorcupineOnly bool
}

// Methods that decide a key.
const (
	// MethodVersionOrder is a linearization built from ZooKeeper's data
	// versions and replayed through the model, or a contradiction between
	// those versions that no order mends.
	MethodVersionOrder = "version order"
	// MethodPorcupine is Porcupine's search.
	MethodPorcupine = "porcupine"
)

// confirmBudget bounds the Porcupine search that confirms a contradiction
// the version order found, for its explanation and visualization; the
// contradiction stands when the search does not finish. Keys with more than
// confirmMaxOps operations are not searched at all: the search rarely
// finishes there, costs memory, and its picture would be unreadable.
const (
	confirmBudget = 5 * time.Second
	confirmMaxOps = 5000
)

// Details is the evidence of the linearizable Checker.
type Details struct {
	// ReadMode is the read mode the history was judged under.
	ReadMode string `json:"read_mode"`
	// Budget is the time budget, zero for none.
	Budget time.Duration `json:"budget_ns,omitempty"`
	// Keys are the per-key results, sorted by key.
	Keys []KeyDetails `json:"keys"`
	// ReadsChecked is the number of ok reads held to linearizability.
	ReadsChecked int `json:"reads_checked"`
	// ReadsLeftOut is the number of ok reads not checked because of the
	// read mode.
	ReadsLeftOut int `json:"reads_left_out,omitempty"`
	// ReadsLeftOutWhy says why those reads were left out.
	ReadsLeftOutWhy string `json:"reads_left_out_why,omitempty"`
	// OKWrites is the number of writes and cas that completed ok.
	OKWrites int `json:"ok_writes"`
	// Unfinished lists the keys whose check did not finish.
	Unfinished []string `json:"unfinished,omitempty"`
}

// KeyDetails is the result of one key's check.
type KeyDetails struct {
	// Key is the register.
	Key string `json:"key"`
	// Verdict is the key's verdict.
	Verdict checker.Verdict `json:"verdict"`
	// Ops is the number of operations checked.
	Ops int `json:"ops"`
	// InfoOps is how many of them were indeterminate.
	InfoOps int `json:"info_ops"`
	// ReadsLeftOut is the number of this key's ok reads not checked.
	ReadsLeftOut int `json:"reads_left_out,omitempty"`
	// Duration is how long the key's check took.
	Duration time.Duration `json:"duration_ns"`
	// Method is what decided the key: MethodVersionOrder or MethodPorcupine.
	Method string `json:"method,omitempty"`
	// Explanation says in words why the key is not valid.
	Explanation string `json:"explanation,omitempty"`
	// LongestPrefix is the length of the longest linearizable prefix found,
	// for a key that is not linearizable.
	LongestPrefix int `json:"longest_prefix,omitempty"`
	// StateAfterPrefix is the register after that prefix, e.g. "12@v5".
	StateAfterPrefix string `json:"state_after_prefix,omitempty"`
	// NotPlaceable are the operations that could have come next after that
	// prefix but that the register's state did not allow.
	NotPlaceable []string `json:"not_placeable,omitempty"`
	// NeverLinearized is the first operation, by call time, that is in no
	// partial linearization at all: usually the culprit.
	NeverLinearized string `json:"never_linearized,omitempty"`
	// cited are the operations the explanation names.
	cited []checker.OpRef
}

// Name returns "linearizable".
func (Checker) Name() string { return "linearizable" }

// keyOutcome is what checking one key produced.
type keyOutcome struct {
	details    KeyDetails
	visual     *checker.Visualization
	unfinished bool
}

// Check judges the register operations of ops; the result's Details is a
// Details.
func (l Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	res := l.check(ctx, ops, start)
	res.Checker = l.Name()
	res.Duration = time.Since(start)
	return res
}

func (l Checker) check(ctx context.Context, ops []history.Op, start time.Time) checker.Result {
	mode, refused := l.mode()
	if refused != nil {
		return *refused
	}
	keys, tally := splitByKey(ops, mode == ReadQuorum)
	run := l.startKeys(ctx, start, len(ops), nemesisAnnotations(ops))
	defer run.release()
	outcomes := make([]keyOutcome, len(keys))
	inParallel(len(keys), func(i int) { outcomes[i] = run.checkKey(keys[i]) })
	return l.conclude(ctx, mode, tally, outcomes)
}

// mode returns the read mode checked, or the result of a check refused
// because the mode is unknown.
func (l Checker) mode() (string, *checker.Result) {
	mode := cmp.Or(l.ReadMode, ReadPlain)
	switch mode {
	case ReadQuorum, ReadPlain, ReadSync:
		return mode, nil
	}
	return mode, &checker.Result{Verdict: checker.Unknown, Message: fmt.Sprintf(
		"unknown read mode %q: want %q, %q or %q; nothing was checked.", mode, ReadPlain, ReadSync, ReadQuorum)}
}

// leftOutWhy says why a read mode's reads are not held to linearizability.
func leftOutWhy(mode string) string {
	switch mode {
	case ReadPlain:
		return "plain reads are sequentially consistent, not linearizable; judged by another checker"
	case ReadSync:
		return "sync+read narrows the window but is not linearizable (ZOOKEEPER-1675); judged by another checker"
	}
	return ""
}

// keyRun is what the checks of one history's keys share: the deadline, the
// flag that stops them, what they draw, and the time they spent searching.
type keyRun struct {
	l            Checker
	deadline     time.Time
	stop         *atomic.Bool
	searched     *atomic.Int64 // ns
	visualizeAll bool
	annotations  []porcupine.Annotation
	release      func() bool
}

// startKeys begins checking the keys of a history of records records, with
// a budget counted from start: each key gets what is left of it when it
// starts. Cancellation of ctx stops the model at once (see registerModel).
// release must be called when the keys are done.
func (l Checker) startKeys(ctx context.Context, start time.Time, records int, annotations []porcupine.Annotation) *keyRun {
	var deadline time.Time
	if l.Budget > 0 {
		deadline = start.Add(l.Budget)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	stop := new(atomic.Bool)
	return &keyRun{
		l: l, deadline: deadline, stop: stop, searched: new(atomic.Int64), visualizeAll: records < l.VisualizeAllBelow, annotations: annotations,
		release: context.AfterFunc(ctx, func() { stop.Store(true) }),
	}
}

// conclude judges the history from its keys' outcomes, sorted by key.
func (l Checker) conclude(ctx context.Context, mode string, tally tally, outcomes []keyOutcome) checker.Result {
	leftOutWhy := leftOutWhy(mode)
	details := Details{
		ReadMode: mode, Budget: l.Budget,
		ReadsChecked: tally.okReads, ReadsLeftOut: tally.readsLeftOut, OKWrites: tally.okWrites,
	}
	if tally.readsLeftOut > 0 {
		details.ReadsLeftOutWhy = leftOutWhy
	}

	res := checker.Result{}
	var invalid, unfinished, unchecked []KeyDetails
	for _, o := range outcomes {
		details.Keys = append(details.Keys, o.details)
		if o.visual != nil {
			res.Visualizations = append(res.Visualizations, *o.visual)
		}
		switch {
		case o.details.Verdict == checker.Invalid:
			invalid = append(invalid, o.details)
		case o.unfinished:
			unfinished = append(unfinished, o.details)
			details.Unfinished = append(details.Unfinished, o.details.Key)
		case o.details.Verdict == checker.Unknown:
			unchecked = append(unchecked, o.details)
		}
	}
	res.Details = details

	var readsNote string
	if tally.readsLeftOut > 0 {
		readsNote = fmt.Sprintf(" %s left out: %s.", checker.Plural(tally.readsLeftOut, mode+" read was", mode+" reads were"), leftOutWhy)
	}
	switch {
	case len(invalid) > 0:
		res.Verdict = checker.Invalid
		first := invalid[0]
		if len(invalid) == 1 {
			res.Message = fmt.Sprintf("Key %s is not linearizable: %s.", first.Key, first.Explanation)
		} else {
			res.Message = fmt.Sprintf("%d of %d keys are not linearizable (%s); key %s: %s.",
				len(invalid), len(outcomes), keyList(invalid), first.Key, first.Explanation)
		}
		res.Message += readsNote
		return res
	}

	var why []string
	switch {
	case tally.okWrites == 0:
		why = append(why, "no evidence: no write or cas completed ok, so nothing was certainly written.")
	case mode == ReadQuorum && tally.okReads == 0:
		why = append(why, "no evidence: no quorum read completed ok, so no read was checked against the writes.")
	}
	if len(unfinished) > 0 {
		verb := fmt.Sprintf("the %s budget ran out", l.Budget)
		if cause := context.Cause(ctx); cause != nil {
			verb = "the check was cancelled (" + cause.Error() + ")"
		}
		rest := "no violation was found in the others"
		if len(unfinished) == len(outcomes) {
			rest = "no key was finished"
		}
		why = append(why, fmt.Sprintf("%s before %d of %d keys were finished (%s); %s.",
			verb, len(unfinished), len(outcomes), keyList(unfinished), rest))
	}
	if len(unchecked) > 0 {
		why = append(why, fmt.Sprintf("%s could not be checked (%s); key %s: %s.",
			checker.Plural(len(unchecked), "key", "keys"), keyList(unchecked), unchecked[0].Key, unchecked[0].Explanation))
	}
	if len(why) > 0 {
		res.Verdict = checker.Unknown
		res.Message = strings.Join(why, " ") + readsNote
		return res
	}
	res.Verdict = checker.Valid
	var n, info int
	for _, k := range details.Keys {
		n += k.Ops
		info += k.InfoOps
	}
	res.Message = fmt.Sprintf("All %d operations on %s are linearizable (%d indeterminate).",
		n, checker.Plural(len(outcomes), "key", "keys"), info) + readsNote
	return res
}

// checkKey decides one key by its version order when it can, and otherwise
// by Porcupine with what is left of the budget.
func (run *keyRun) checkKey(kh *keyHistory) keyOutcome {
	l, deadline, stop, visualizeAll := run.l, run.deadline, run.stop, run.visualizeAll
	start := time.Now()
	d := KeyDetails{Key: kh.key, Ops: len(kh.ops), InfoOps: kh.infoOps, ReadsLeftOut: kh.readsLeftOut, Verdict: checker.Unknown}
	done := func(o keyOutcome) keyOutcome {
		o.details.Duration = time.Since(start)
		if n := len(kh.unreadable); n > 0 {
			note := fmt.Sprintf("%s left out, e.g. %s", checker.Plural(n, "unreadable read was", "unreadable reads were"), kh.unreadable[0])
			switch o.details.Verdict {
			case checker.Valid:
				o.details.Verdict = checker.Unknown
				o.details.Explanation = "linearizable without the reads that cannot be checked; " + note
			case checker.Invalid:
				o.details.Explanation += " (" + note + ")"
			}
		}
		return o
	}
	if len(kh.malformed) > 0 {
		d.Explanation = fmt.Sprintf("%d malformed records, e.g. %s", len(kh.malformed), kh.malformed[0])
		return done(keyOutcome{details: d})
	}
	if stop.Load() {
		d.Explanation = "not started: the check was cancelled"
		return done(keyOutcome{details: d, unfinished: true})
	}

	// The version order takes time in proportion to the key's calls, and
	// what it proves needs no budget: the budget bounds the search alone.
	var order orderResult
	if !l.PorcupineOnly {
		order = versionOrder(kh)
	}
	var timeout time.Duration
	outOfTime := false
	if !deadline.IsZero() {
		timeout = time.Until(deadline)
		outOfTime = timeout <= 0
	}
	if order.verdict == orderValid && (!visualizeAll || outOfTime) {
		d.Verdict, d.Method = checker.Valid, MethodVersionOrder
		return done(keyOutcome{details: d})
	}
	if order.verdict == orderInvalid && (len(kh.ops) > confirmMaxOps || outOfTime) {
		d.Verdict, d.Method = checker.Invalid, MethodVersionOrder
		d.Explanation, d.cited = order.reason, cite(roleCited, kh.invokedAt, order.ops...)
		return done(keyOutcome{details: d})
	}
	if outOfTime {
		d.Explanation = "not searched: no time was left"
		return done(keyOutcome{details: d, unfinished: true})
	}
	if order.verdict == orderInvalid && (timeout == 0 || timeout > confirmBudget) {
		timeout = confirmBudget
	}

	searched := time.Now()
	defer func() { run.searched.Add(int64(time.Since(searched))) }()
	result, info := porcupine.CheckOperationsVerbose(registerModel(stop), kh.ops, timeout)
	o := keyOutcome{details: d}
	o.details.Method = MethodPorcupine
	switch {
	case result == porcupine.Ok:
		o.details.Verdict = checker.Valid
	case order.verdict == orderInvalid && result == porcupine.Unknown && !stop.Load():
		// The contradiction stands without the search's confirmation.
		o.details.Verdict, o.details.Method = checker.Invalid, MethodVersionOrder
		o.details.Explanation, o.details.cited = order.reason, cite(roleCited, kh.invokedAt, order.ops...)
		return done(o)
	case stop.Load():
		o.details.Explanation = "cancelled before it finished"
		o.unfinished = true
		return done(o)
	case result == porcupine.Unknown:
		o.details.Explanation = "the budget ran out before it finished"
		o.unfinished = true
	case result == porcupine.Illegal:
		o.details.Verdict = checker.Invalid
		explain(&o.details, kh, info)
		if order.verdict == orderInvalid {
			o.details.Explanation = order.reason + "; " + o.details.Explanation
			o.details.cited = append(cite(roleCited, kh.invokedAt, order.ops...), o.details.cited...)
		}
	}
	if o.details.Verdict == checker.Invalid || visualizeAll {
		o.visual = visualize(kh.key, o.details.Verdict, info, run.annotations)
	}
	return done(o)
}
