// Package set judges the set workload: every acknowledged add survives, on
// every node's final read, and nothing appears that was never added.
package set

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/stats"
	"github.com/zkchaos/zkchaos/checker/znodes"
	"github.com/zkchaos/zkchaos/history"
)

// Add is the operation name of the set workload's create; its Value is
// the element, unique across the run.
const Add = "add"

// Checker checks the set workload (unique creates) against what ZooKeeper
// promises: a create is a linearizable write, so once acknowledged it is in
// every replica for good (the set workload never deletes), and a node never
// holds what nobody wrote. Each node's final read (sync, then the children
// of the root) is judged on its own:
//
//   - lost: an add acknowledged before the read began is absent;
//   - diverged: an element that an earlier final read (on any node) saw is
//     absent; the set only grows and a synced read sees every commit;
//   - phantom: an element present that no add had tried before the read
//     ended; failed-present: present though every add of it certainly failed;
//   - duplicated: an element present twice (a create applied twice);
//   - recovered: an indeterminate add that is present (fine);
//   - unknown outcome: an indeterminate add that is absent (fine).
//
// Sequential creates are also held to the order of their names: ZooKeeper
// numbers them from the parent's child version in commit order, so two
// acknowledged creates never get the same name, and a create that completed
// before another began gets the lower number.
//
// The verdict is invalid on any lost, diverged, phantom, failed-present or
// duplicated element or any sequence violation; unknown when no add was
// acknowledged, no final read exists, or a node known to the history has no
// final read.
type Checker struct{}

// Name returns "set".
func (Checker) Name() string { return "set" }

// NodeResult is what one node's final read showed.
type NodeResult struct {
	// Node is the server that was read.
	Node string `json:"node"`
	// Present is how many elements the read returned.
	Present int `json:"present"`
	// Verdict is this node's verdict.
	Verdict checker.Verdict `json:"verdict"`
	// Lost are acknowledged adds absent from the read.
	Lost znodes.ElementSample `json:"lost"`
	// Diverged are elements an earlier final read saw that are absent here.
	Diverged znodes.ElementSample `json:"diverged"`
	// Phantom are elements present that no add had attempted.
	Phantom znodes.ElementSample `json:"phantom"`
	// FailedPresent are elements present whose every add certainly failed.
	FailedPresent znodes.ElementSample `json:"failed_present"`
	// Duplicated are elements present more than once.
	Duplicated znodes.ElementSample `json:"duplicated"`
	// Recovered are indeterminate adds that are present.
	Recovered znodes.ElementSample `json:"recovered"`
	// UnknownOutcome are indeterminate adds that are absent: allowed.
	UnknownOutcome znodes.ElementSample `json:"unknown_outcome"`
	// read is the index of the final read's invocation record.
	read int64
}

// Details is the evidence of the set Checker.
type Details struct {
	// Adds counts how the adds ended.
	Adds stats.Counts `json:"adds"`
	// Nodes are the per-node results of the final reads, by node name.
	Nodes []NodeResult `json:"nodes"`
	// Unread lists nodes seen in the history that have no final read.
	Unread []string `json:"unread,omitempty"`
	// Sequence lists violations of the order of sequential names.
	Sequence znodes.SequenceCheck `json:"sequence"`
	// Malformed counts operations that lack what the checker needs (an add
	// without a value); they are left out.
	Malformed int `json:"malformed,omitempty"`
	// adds are the invocation records of each element's adds.
	adds map[int64][]int64
}

// addState is what the history says about one element's adds.
type addState struct {
	calls []history.Call
}

// attemptedBy classifies the adds of an element invoked no later than t:
// none, all failed, some ok, or otherwise indeterminate.
func (s *addState) attemptedBy(t int64) (attempted, allFailed, ok bool) {
	allFailed = true
	for _, c := range s.calls {
		if c.Invoke.Time > t {
			continue
		}
		attempted = true
		switch c.Type() {
		case history.OK:
			ok = true
			allFailed = false
		case history.Fail:
		default:
			allFailed = false
		}
	}
	return attempted, attempted && allFailed, ok
}

// ackedBefore reports whether an add of the element completed ok before t.
func (s *addState) ackedBefore(t int64) bool {
	for _, c := range s.calls {
		if c.Type() == history.OK && c.Complete.Time < t {
			return true
		}
	}
	return false
}

// indeterminate reports whether no add of the element is ok and some is
// neither ok nor failed.
func (s *addState) indeterminate() bool {
	info := false
	for _, c := range s.calls {
		switch c.Type() {
		case history.OK:
			return false
		case history.Fail:
		default:
			info = true
		}
	}
	return info
}

// Check judges the set workload's history; the result's Details is a Details.
func (s Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	r := s.check(ctx, ops)
	r.Checker = s.Name()
	r.Duration = time.Since(start)
	return r
}

func (Checker) check(ctx context.Context, ops []history.Op) checker.Result {
	if err := ctx.Err(); err != nil {
		return checker.Result{Verdict: checker.Unknown, Message: "the check did not run: " + err.Error()}
	}
	calls := history.Calls(ops)
	var d Details
	adds := map[int64]*addState{}
	var seqCreates []znodes.Create
	for _, c := range calls {
		if c.Invoke.F != Add {
			continue
		}
		if c.Invoke.Value == nil {
			d.Malformed++
			continue
		}
		e := *c.Invoke.Value
		st := adds[e]
		if st == nil {
			st = &addState{}
			adds[e] = st
		}
		st.calls = append(st.calls, c)
		if d.adds == nil {
			d.adds = map[int64][]int64{}
		}
		d.adds[e] = append(d.adds[e], c.Invoke.Index)
		switch c.Type() {
		case history.OK:
			d.Adds.OK++
			if p, n, ok := znodes.SequentialName(c); ok {
				seqCreates = append(seqCreates, znodes.Create{
					Element: e, Path: p, Seq: n, Invoke: c.Invoke.Time, Complete: c.Complete.Time, Index: c.Invoke.Index})
			}
		case history.Fail:
			d.Adds.Fail++
		default:
			d.Adds.Info++
		}
	}
	d.Sequence = znodes.CheckSequence(seqCreates)

	reads, known := znodes.OKReads(calls, ops)
	d.Unread = znodes.NodesWithoutRead(known, reads)

	// seen[e] is the earliest completion of a final read that saw e.
	seen := map[int64]int64{}
	for _, r := range reads {
		for _, e := range r.Call.Complete.Values {
			if t, ok := seen[e]; !ok || r.Call.Complete.Time < t {
				seen[e] = r.Call.Complete.Time
			}
		}
	}

	for _, r := range reads {
		d.Nodes = append(d.Nodes, judgeRead(r, adds, seen))
	}
	sort.SliceStable(d.Nodes, func(i, j int) bool { return d.Nodes[i].Node < d.Nodes[j].Node })

	res := checker.Result{Details: d}
	var problems []string
	for _, n := range d.Nodes {
		if n.Verdict == checker.Invalid {
			problems = append(problems, describeNode(n))
		}
	}
	if p := d.Sequence.Problem(); p != "" {
		problems = append(problems, p)
	}
	switch {
	case len(problems) > 0:
		res.Verdict = checker.Invalid
		res.Message = strings.Join(problems, "; ") + "."
	case d.Malformed > 0:
		res.Verdict = checker.Unknown
		res.Message = fmt.Sprintf("%s lacked the element it added, so what they did is unknown; nothing wrong was found in the rest: %s.",
			checker.Plural(d.Malformed, "add record", "add records"), summary(d))
	case len(reads) == 0:
		res.Verdict = checker.Unknown
		res.Message = fmt.Sprintf("no evidence: no final read of the set completed (adds %d ok / %d fail / %d info).",
			d.Adds.OK, d.Adds.Fail, d.Adds.Info)
	case d.Adds.OK == 0:
		res.Verdict = checker.Unknown
		res.Message = fmt.Sprintf("no evidence: no add was acknowledged (%d fail / %d info), so nothing could be lost.",
			d.Adds.Fail, d.Adds.Info)
	case len(d.Unread) > 0:
		res.Verdict = checker.Unknown
		res.Message = fmt.Sprintf("no final read of %s; the %s read agree: %s.",
			strings.Join(d.Unread, ", "), checker.Plural(len(reads), "node", "nodes"), summary(d))
	default:
		res.Verdict = checker.Valid
		res.Message = summary(d) + "."
	}
	return res
}

// judgeRead judges one node's final read.
func judgeRead(r znodes.Read, adds map[int64]*addState, seen map[int64]int64) NodeResult {
	c := r.Call
	count := map[int64]int{}
	for _, e := range c.Complete.Values {
		count[e]++
	}
	var lost, diverged, phantom, failed, dup, recovered, unknown []int64
	for e, n := range count {
		if n > 1 {
			dup = append(dup, e)
		}
		st := adds[e]
		if st == nil {
			phantom = append(phantom, e)
			continue
		}
		attempted, allFailed, ok := st.attemptedBy(c.Complete.Time)
		switch {
		case !attempted:
			phantom = append(phantom, e)
		case allFailed:
			failed = append(failed, e)
		case !ok && st.indeterminate():
			recovered = append(recovered, e)
		}
	}
	for e, st := range adds {
		if count[e] > 0 {
			continue
		}
		switch {
		case st.ackedBefore(c.Invoke.Time):
			lost = append(lost, e)
		case seenBefore(seen, e, c.Invoke.Time):
			diverged = append(diverged, e)
		case st.indeterminate():
			unknown = append(unknown, e)
		}
	}
	// Elements only a read saw (phantoms) must not vanish either.
	for e, t := range seen {
		if count[e] == 0 && adds[e] == nil && t < c.Invoke.Time {
			diverged = append(diverged, e)
		}
	}
	nr := NodeResult{
		Node: r.Node, Present: len(c.Complete.Values), read: c.Invoke.Index,
		Lost: znodes.SampleOf(lost), Diverged: znodes.SampleOf(diverged), Phantom: znodes.SampleOf(phantom),
		FailedPresent: znodes.SampleOf(failed), Duplicated: znodes.SampleOf(dup),
		Recovered: znodes.SampleOf(recovered), UnknownOutcome: znodes.SampleOf(unknown),
		Verdict: checker.Valid,
	}
	if len(lost)+len(diverged)+len(phantom)+len(failed)+len(dup) > 0 {
		nr.Verdict = checker.Invalid
	}
	return nr
}

func seenBefore(seen map[int64]int64, e, t int64) bool {
	s, ok := seen[e]
	return ok && s < t
}

// finding is one kind of wrong a final read can show, and its elements.
type finding struct {
	kind, what string
	s          znodes.ElementSample
}

// findings lists what is wrong with a node's final read, as the message
// names it.
func findings(n NodeResult) []finding {
	var out []finding
	for _, f := range []finding{
		{"lost add", "lost acknowledged adds", n.Lost},
		{"diverged", "lost elements an earlier final read saw", n.Diverged},
		{"phantom", "holds elements never added", n.Phantom},
		{"failed add present", "holds elements whose add certainly failed", n.FailedPresent},
		{"duplicate", "holds elements twice", n.Duplicated},
	} {
		if f.s.Count > 0 {
			out = append(out, f)
		}
	}
	return out
}

func describeNode(n NodeResult) string {
	var parts []string
	for _, f := range findings(n) {
		parts = append(parts, fmt.Sprintf("%s %s", f.what, f.s))
	}
	return fmt.Sprintf("node %s %s", n.Node, strings.Join(parts, ", "))
}

func summary(d Details) string {
	var present []string
	recovered, unknown := 0, 0
	for _, n := range d.Nodes {
		present = append(present, fmt.Sprintf("%s %d", n.Node, n.Present))
		recovered = max(recovered, n.Recovered.Count)
		unknown = max(unknown, n.UnknownOutcome.Count)
	}
	return fmt.Sprintf("all %d acknowledged adds are present on every node read (elements per node: %s); "+
		"of %d indeterminate adds, up to %d are present and up to %d absent (both allowed)",
		d.Adds.OK, strings.Join(present, ", "), d.Adds.Info, recovered, unknown)
}
