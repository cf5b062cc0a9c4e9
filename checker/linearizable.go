package checker

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
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

// Linearizable checks that the register workload's operations on each key
// are linearizable, with Porcupine. Keys are checked independently and in
// parallel.
type Linearizable struct {
	// Budget is the total time for the check; when it runs out the verdict
	// is Unknown, never Valid. Zero means no limit other than the context.
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

// LinearizableDetails is the evidence of the Linearizable checker.
type LinearizableDetails struct {
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
	Verdict Verdict `json:"verdict"`
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
}

// Name returns "linearizable".
func (Linearizable) Name() string { return "linearizable" }

// keyHistory is one key's operations, ready for Porcupine. calls[i] is the
// record pair behind ops[i]. Malformed records make the key unknown;
// unreadable reads (ok, without value or version) are left out of ops: a
// read changes nothing, so they cannot mend a violation of the others, but
// they keep a key without one from being valid.
type keyHistory struct {
	key          string
	ops          []porcupine.Operation
	calls        []*history.Call
	infoOps      int
	readsLeftOut int
	malformed    []string
	unreadable   []string
}

// keyOutcome is what checking one key produced.
type keyOutcome struct {
	details    KeyDetails
	visual     *Visualization
	unfinished bool
}

// Check judges the register operations of ops; Details is a
// LinearizableDetails.
func (l Linearizable) Check(ctx context.Context, ops []history.Op) Result {
	start := time.Now()
	res := l.check(ctx, ops, start)
	res.Checker = l.Name()
	res.Duration = time.Since(start)
	return res
}

func (l Linearizable) check(ctx context.Context, ops []history.Op, start time.Time) Result {
	mode := l.ReadMode
	if mode == "" {
		mode = ReadPlain
	}
	var leftOutWhy string
	switch mode {
	case ReadQuorum:
	case ReadPlain:
		leftOutWhy = "plain reads are sequentially consistent, not linearizable; judged by another checker"
	case ReadSync:
		leftOutWhy = "sync+read narrows the window but is not linearizable (ZOOKEEPER-1675); judged by another checker"
	default:
		return Result{Verdict: Unknown, Message: fmt.Sprintf(
			"unknown read mode %q: want %q, %q or %q; nothing was checked.", mode, ReadPlain, ReadSync, ReadQuorum)}
	}

	keys, tally := splitByKey(ops, mode == ReadQuorum)
	details := LinearizableDetails{
		ReadMode: mode, Budget: l.Budget,
		ReadsChecked: tally.okReads, ReadsLeftOut: tally.readsLeftOut, OKWrites: tally.okWrites,
	}
	if tally.readsLeftOut > 0 {
		details.ReadsLeftOutWhy = leftOutWhy
	}

	// A shared deadline: each key gets what is left of the budget when it
	// starts. Cancellation of ctx stops the model at once (see registerModel).
	var deadline time.Time
	if l.Budget > 0 {
		deadline = start.Add(l.Budget)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()

	annotations := nemesisAnnotations(ops)
	visualizeAll := len(ops) < l.VisualizeAllBelow
	outcomes := make([]keyOutcome, len(keys))
	inParallel(len(keys), func(i int) {
		outcomes[i] = l.checkKey(keys[i], deadline, &stop, visualizeAll, annotations)
	})

	res := Result{}
	var invalid, unfinished, unchecked []KeyDetails
	for _, o := range outcomes {
		details.Keys = append(details.Keys, o.details)
		if o.visual != nil {
			res.Visualizations = append(res.Visualizations, *o.visual)
		}
		switch {
		case o.details.Verdict == Invalid:
			invalid = append(invalid, o.details)
		case o.unfinished:
			unfinished = append(unfinished, o.details)
			details.Unfinished = append(details.Unfinished, o.details.Key)
		case o.details.Verdict == Unknown:
			unchecked = append(unchecked, o.details)
		}
	}
	res.Details = details

	var readsNote string
	if tally.readsLeftOut > 0 {
		readsNote = fmt.Sprintf(" %s left out: %s.", plural(tally.readsLeftOut, mode+" read was", mode+" reads were"), leftOutWhy)
	}
	switch {
	case len(invalid) > 0:
		res.Verdict = Invalid
		first := invalid[0]
		if len(invalid) == 1 {
			res.Message = fmt.Sprintf("Key %s is not linearizable: %s.", first.Key, first.Explanation)
		} else {
			res.Message = fmt.Sprintf("%d of %d keys are not linearizable (%s); key %s: %s.",
				len(invalid), len(keys), keyList(invalid), first.Key, first.Explanation)
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
		if len(unfinished) == len(keys) {
			rest = "no key was finished"
		}
		why = append(why, fmt.Sprintf("%s before %d of %d keys were finished (%s); %s.",
			verb, len(unfinished), len(keys), keyList(unfinished), rest))
	}
	if len(unchecked) > 0 {
		why = append(why, fmt.Sprintf("%s could not be checked (%s); key %s: %s.",
			plural(len(unchecked), "key", "keys"), keyList(unchecked), unchecked[0].Key, unchecked[0].Explanation))
	}
	if len(why) > 0 {
		res.Verdict = Unknown
		res.Message = strings.Join(why, " ") + readsNote
		return res
	}
	res.Verdict = Valid
	var n, info int
	for _, k := range details.Keys {
		n += k.Ops
		info += k.InfoOps
	}
	res.Message = fmt.Sprintf("All %d operations on %s are linearizable (%d indeterminate).",
		n, plural(len(keys), "key", "keys"), info) + readsNote
	return res
}

// tally counts the evidence in a history, over all keys.
type tally struct {
	okReads, okWrites, readsLeftOut int
}

// splitByKey pairs the records into calls and turns them into Porcupine
// operations, one slice per key, sorted by key. It is linear in the history.
func splitByKey(ops []history.Op, checkReads bool) ([]*keyHistory, tally) {
	var last int64
	for _, op := range ops {
		last = max(last, op.Time)
	}
	// An indeterminate operation may take effect at any time after its
	// call: its return is later than every other event.
	never := last + 1
	if last == math.MaxInt64 {
		never = last
	}

	byKey := map[string]*keyHistory{}
	var t tally
	calls := history.Calls(ops)
	for i := range calls {
		c := &calls[i]
		f := c.Invoke.F
		if f != history.Read && f != history.Write && f != history.CAS {
			continue
		}
		typ := c.Complete.Type
		if typ != history.OK && typ != history.Fail {
			typ = history.Info // including a completion that never came
		}
		kh := byKey[c.Invoke.Key]
		if kh == nil {
			kh = &keyHistory{key: c.Invoke.Key}
			byKey[c.Invoke.Key] = kh
		}
		in := regInput{f: f}
		out := regOutput{typ: typ}
		switch f {
		case history.Read:
			if typ != history.OK {
				continue // a failed or indeterminate read has no effect
			}
			if !checkReads {
				kh.readsLeftOut++
				t.readsLeftOut++
				continue
			}
			if c.Complete.Value == nil || c.Complete.Version == nil {
				kh.unreadable = append(kh.unreadable, "ok read without value or version: "+c.Complete.String())
				continue
			}
			out.value, out.version, out.hasVersion = *c.Complete.Value, *c.Complete.Version, true
			t.okReads++
		case history.Write, history.CAS:
			if typ == history.Fail && (f == history.Write || !strings.Contains(c.Complete.Error, versionConflict)) {
				continue // certainly did not happen, and says nothing about the version
			}
			v := firstNonNil(c.Invoke.Value, c.Complete.Value)
			if v == nil {
				kh.malformed = append(kh.malformed, f+" without value: "+c.Invoke.String())
				continue
			}
			in.value = *v
			if f == history.CAS {
				e := firstNonNil(c.Invoke.Expect, c.Complete.Expect)
				if e == nil {
					kh.malformed = append(kh.malformed, "cas without expected version: "+c.Invoke.String())
					continue
				}
				in.expect = *e
			}
			if typ == history.OK {
				t.okWrites++
				if c.Complete.Version != nil {
					out.version, out.hasVersion = *c.Complete.Version, true
				}
			}
		}
		// A completion stamped before its invocation (a hand-edited or imported
		// history) is taken as instantaneous rather than reversed in time.
		ret := max(c.Complete.Time, c.Invoke.Time)
		if typ == history.Info {
			ret = never
			kh.infoOps++
		}
		kh.ops = append(kh.ops, porcupine.Operation{
			Input: in, Output: out, Call: c.Invoke.Time, Return: ret, Metadata: c,
		})
		kh.calls = append(kh.calls, c)
	}

	keys := make([]*keyHistory, 0, len(byKey))
	for _, kh := range byKey {
		if len(kh.ops) == 0 && len(kh.malformed) == 0 && len(kh.unreadable) == 0 {
			continue // only reads that were left out
		}
		assignClients(kh)
		keys = append(keys, kh)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	return keys, t
}

func firstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// assignClients numbers the key's processes densely, in process order, so
// the visualization has one row per process and no empty rows.
func assignClients(kh *keyHistory) {
	seen := map[history.Process]bool{}
	var procs []history.Process
	for _, c := range kh.calls {
		if !seen[c.Invoke.Process] {
			seen[c.Invoke.Process] = true
			procs = append(procs, c.Invoke.Process)
		}
	}
	slices.Sort(procs)
	row := make(map[history.Process]int, len(procs))
	for i, p := range procs {
		row[p] = i
	}
	for i, c := range kh.calls {
		kh.ops[i].ClientId = row[c.Invoke.Process]
	}
}

// metadata is the tooltip of an operation in the visualization.
func metadata(c *history.Call) string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s", c.Invoke.Process)
	if c.Invoke.Node != "" {
		fmt.Fprintf(&b, " on %s", c.Invoke.Node)
	}
	if c.Complete.Zxid != 0 {
		fmt.Fprintf(&b, ", zxid 0x%x", c.Complete.Zxid)
	}
	if c.Complete.Error != "" {
		fmt.Fprintf(&b, ", error %q", c.Complete.Error)
	}
	fmt.Fprintf(&b, ", record #%d", c.Invoke.Index)
	if c.Complete.Index >= 0 {
		fmt.Fprintf(&b, " and #%d", c.Complete.Index)
	}
	return b.String()
}

// checkKey decides one key by its version order when it can, and otherwise
// by Porcupine with what is left of the budget.
func (l Linearizable) checkKey(kh *keyHistory, deadline time.Time, stop *atomic.Bool, visualizeAll bool, annotations []porcupine.Annotation) keyOutcome {
	start := time.Now()
	d := KeyDetails{Key: kh.key, Ops: len(kh.ops), InfoOps: kh.infoOps, ReadsLeftOut: kh.readsLeftOut, Verdict: Unknown}
	done := func(o keyOutcome) keyOutcome {
		o.details.Duration = time.Since(start)
		if n := len(kh.unreadable); n > 0 {
			note := fmt.Sprintf("%s left out, e.g. %s", plural(n, "unreadable read was", "unreadable reads were"), kh.unreadable[0])
			switch o.details.Verdict {
			case Valid:
				o.details.Verdict = Unknown
				o.details.Explanation = "linearizable without the reads that cannot be checked; " + note
			case Invalid:
				o.details.Explanation += " (" + note + ")"
			}
		}
		return o
	}
	if len(kh.malformed) > 0 {
		d.Explanation = fmt.Sprintf("%d malformed records, e.g. %s", len(kh.malformed), kh.malformed[0])
		return done(keyOutcome{details: d})
	}
	var timeout time.Duration
	if !deadline.IsZero() {
		if timeout = time.Until(deadline); timeout <= 0 {
			d.Explanation = "not started: no time was left"
			return done(keyOutcome{details: d, unfinished: true})
		}
	}
	if stop.Load() {
		d.Explanation = "not started: the check was cancelled"
		return done(keyOutcome{details: d, unfinished: true})
	}

	var order orderResult
	if !l.PorcupineOnly {
		order = versionOrder(kh)
	}
	if order.verdict == orderValid && !visualizeAll {
		d.Verdict, d.Method = Valid, MethodVersionOrder
		return done(keyOutcome{details: d})
	}
	if order.verdict == orderInvalid && len(kh.ops) > confirmMaxOps {
		d.Verdict, d.Method = Invalid, MethodVersionOrder
		d.Explanation = order.reason
		return done(keyOutcome{details: d})
	}
	if order.verdict == orderInvalid && (timeout == 0 || timeout > confirmBudget) {
		timeout = confirmBudget
	}

	result, info := porcupine.CheckOperationsVerbose(registerModel(stop), kh.ops, timeout)
	o := keyOutcome{details: d}
	o.details.Method = MethodPorcupine
	switch {
	case result == porcupine.Ok:
		o.details.Verdict = Valid
	case order.verdict == orderInvalid && result == porcupine.Unknown && !stop.Load():
		// The contradiction stands without the search's confirmation.
		o.details.Verdict, o.details.Method = Invalid, MethodVersionOrder
		o.details.Explanation = order.reason
		return done(o)
	case stop.Load():
		o.details.Explanation = "cancelled before it finished"
		o.unfinished = true
		return done(o)
	case result == porcupine.Unknown:
		o.details.Explanation = "the budget ran out before it finished"
		o.unfinished = true
	case result == porcupine.Illegal:
		o.details.Verdict = Invalid
		explain(&o.details, kh, info)
		if order.verdict == orderInvalid {
			o.details.Explanation = order.reason + "; " + o.details.Explanation
		}
	}
	if o.details.Verdict == Invalid || visualizeAll {
		o.visual = visualize(kh.key, o.details.Verdict, info, annotations)
	}
	return done(o)
}

// explain fills in why a key is not linearizable, from Porcupine's partial
// linearizations: the longest one, the state it leaves, and the operations
// that could have come next but did not fit that state.
func explain(d *KeyDetails, kh *keyHistory, info porcupine.LinearizationInfo) {
	var lins [][]int
	if p := info.PartialLinearizations(); len(p) > 0 {
		lins = p[0]
	}
	// The longest, ties broken by content so the explanation is stable.
	var best []int
	for _, lin := range lins {
		if best == nil || len(lin) > len(best) || (len(lin) == len(best) && slices.Compare(lin, best) < 0) {
			best = lin
		}
	}
	n := len(kh.ops)
	placed := make([]bool, n)
	state := regState{}
	for _, id := range best {
		placed[id] = true
		_, state = step(state, kh.ops[id].Input.(regInput), kh.ops[id].Output.(regOutput))
	}
	// After the prefix, an operation can come next if no other remaining
	// operation returned before it was called.
	minReturn := int64(math.MaxInt64)
	for id, op := range kh.ops {
		if !placed[id] {
			minReturn = min(minReturn, op.Return)
		}
	}
	var next []int
	for id, op := range kh.ops {
		if !placed[id] && op.Call <= minReturn {
			next = append(next, id)
		}
	}
	sort.SliceStable(next, func(i, j int) bool { return kh.ops[next[i]].Call < kh.ops[next[j]].Call })

	descs := make([]string, len(next))
	for i, id := range next {
		descs[i] = describeCall(kh, id)
	}

	d.LongestPrefix = len(best)
	d.StateAfterPrefix = state.String()
	d.NotPlaceable = descs[:min(len(descs), maxNotPlaceable)]
	d.Explanation = fmt.Sprintf("no linearization; the longest linearizable prefix has %d of %d operations and leaves the register at %s; these operations could not be placed next: %s",
		len(best), n, state, listOps(descs))

	inSome := make([]bool, n)
	for _, lin := range lins {
		for _, id := range lin {
			inSome[id] = true
		}
	}
	never := -1
	for id, op := range kh.ops {
		if !inSome[id] && (never < 0 || op.Call < kh.ops[never].Call) {
			never = id
		}
	}
	if never >= 0 {
		d.NeverLinearized = describeCall(kh, never)
	}
}

// maxNotPlaceable bounds KeyDetails.NotPlaceable.
const maxNotPlaceable = 20

// listOps joins operation descriptions for a message: the first five, then
// how many more.
func listOps(descs []string) string {
	const most = 5
	if len(descs) <= most {
		return strings.Join(descs, "; ")
	}
	return strings.Join(descs[:most], "; ") + fmt.Sprintf("; and %d more", len(descs)-most)
}

// describeCall renders one operation for an explanation: process, node,
// what it did, and when (milliseconds since the run started).
func describeCall(kh *keyHistory, id int) string {
	op, c := kh.ops[id], kh.calls[id]
	who := "process " + c.Invoke.Process.String()
	if c.Invoke.Node != "" {
		who += " on " + c.Invoke.Node
	}
	when := fmt.Sprintf("%s-%s ms", ms(op.Call), ms(op.Return))
	if op.Output.(regOutput).typ == history.Info {
		when = fmt.Sprintf("from %s ms, never confirmed", ms(op.Call))
	}
	return fmt.Sprintf("%s: %s (%s)", who, describeOp(op.Input.(regInput), op.Output.(regOutput)), when)
}

// ms renders nanoseconds as milliseconds with at most three decimals.
func ms(ns int64) string {
	s := strconv.FormatFloat(float64(ns)/1e6, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// plural renders "1 thing was" or "2 things were".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// keyList names keys for a message, at most ten.
func keyList(ds []KeyDetails) string {
	const most = 10
	names := make([]string, 0, most+1)
	for i, d := range ds {
		if i == most {
			names = append(names, fmt.Sprintf("and %d more", len(ds)-most))
			break
		}
		names = append(names, d.Key)
	}
	return strings.Join(names, ", ")
}

// visualize renders Porcupine's page for one key, with the nemesis windows.
func visualize(key string, v Verdict, info porcupine.LinearizationInfo, annotations []porcupine.Annotation) *Visualization {
	info.AddAnnotations(annotations)
	var buf bytes.Buffer
	// A fresh model: the check's model may have been stopped, and
	// Visualize replays the partial linearizations through Step.
	if err := porcupine.Visualize(registerModel(new(atomic.Bool)), info, &buf); err != nil {
		return nil
	}
	return &Visualization{Title: fmt.Sprintf("linearizability of key %s (%s)", key, v), HTML: buf.Bytes()}
}

// nemesisAnnotations turns nemesis records into annotations: an invoke and
// the next completion of the same f make a window, anything else a point.
func nemesisAnnotations(ops []history.Op) []porcupine.Annotation {
	var out []porcupine.Annotation
	open := map[string]history.Op{}
	point := func(op history.Op) {
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: op.Time, End: op.Time, Description: faultName(op), Details: faultDetails(op, nil),
			BackgroundColor: "#f9d3d3",
		})
	}
	for _, op := range ops {
		if !op.IsNemesis() {
			continue
		}
		if op.Type == history.Invoke {
			if prev, ok := open[op.F]; ok {
				point(prev)
			}
			open[op.F] = op
			continue
		}
		inv, ok := open[op.F]
		if !ok {
			point(op)
			continue
		}
		delete(open, op.F)
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: inv.Time, End: op.Time,
			Description: faultName(op), Details: faultDetails(op, &inv), BackgroundColor: "#f9d3d3",
		})
	}
	// Invocations never completed (the run ended during a fault), in time order.
	rest := make([]history.Op, 0, len(open))
	for _, op := range open {
		rest = append(rest, op)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Index < rest[j].Index })
	for _, op := range rest {
		point(op)
	}
	return out
}

func faultName(op history.Op) string {
	name := op.F
	if op.Fault != nil && op.Fault.Name != "" {
		name = op.Fault.Name
	}
	if op.Fault != nil && len(op.Fault.Targets) > 0 {
		name += " " + strings.Join(op.Fault.Targets, ",")
	}
	return name
}

func faultDetails(op history.Op, inv *history.Op) string {
	parts := []string{"f " + op.F}
	if inv != nil {
		parts = append(parts, fmt.Sprintf("%s-%s ms", ms(inv.Time), ms(op.Time)))
	} else {
		parts = append(parts, fmt.Sprintf("%s at %s ms", op.Type, ms(op.Time)))
	}
	if op.Fault != nil && op.Fault.Detail != "" {
		parts = append(parts, op.Fault.Detail)
	}
	if op.Error != "" {
		parts = append(parts, "error: "+op.Error)
	}
	return strings.Join(parts, "; ")
}
