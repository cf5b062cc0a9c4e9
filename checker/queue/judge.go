package queue

import (
	"fmt"
	"strings"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/znodes"
	"github.com/zkchaos/zkchaos/history"
)

// enqueuedBy reports whether an enqueue of the element was invoked no later
// than t, and whether every such enqueue certainly failed.
func enqueuedBy(el *element, t int64) (attempted, allFailed bool) {
	allFailed = true
	for _, c := range el.enqueues {
		if c.Invoke.Time > t {
			continue
		}
		attempted = true
		if c.Type() != history.Fail {
			allFailed = false
		}
	}
	return attempted, attempted && allFailed
}

// dequeuedAfter reports whether an ok dequeue of the element began after t.
func dequeuedAfter(el *element, t int64) bool {
	for _, dq := range el.okDequeues {
		if dq.Invoke.Time > t {
			return true
		}
	}
	return false
}

// judgeRead judges one node's final read.
func judgeRead(r znodes.Read, elems map[int64]*element, wildcards []int64, order *dequeueOrder, seen sightings) (NodeResult, []Skip) {
	c := r.Call
	count := map[int64]int{}
	for _, e := range c.Complete.Values {
		count[e]++
	}
	newest, hasNewest := order.highestBefore(c.Invoke.Time)
	var skips []Skip
	var resurrected, phantom, failed, dup, recovered []int64
	for e, n := range count {
		if n > 1 {
			dup = append(dup, e)
		}
		el := elems[e]
		if el == nil {
			phantom = append(phantom, e)
			continue
		}
		for _, dq := range el.okDequeues {
			if dq.Complete.Time < c.Invoke.Time {
				resurrected = append(resurrected, e)
				break
			}
		}
		attempted, allFailed := enqueuedBy(el, c.Complete.Time)
		switch {
		case !attempted:
			phantom = append(phantom, e)
		case allFailed:
			failed = append(failed, e)
		case el.okPath == "":
			recovered = append(recovered, e)
		}
		if seq, ok := znodes.SequenceOf(el.okPath); ok && hasNewest && newest.Seq > seq {
			skips = append(skips, Skip{
				Older: znodes.SequencedElement{Element: e, Path: el.okPath, Seq: seq, Index: el.okIndex},
				Newer: newest.SequencedElement, How: "present on " + r.Node})
		}
	}

	var missing, maybe, returned []int64
	for e, el := range elems {
		if count[e] > 0 || !ackedEnqueueBefore(el, c.Invoke.Time) && !seen.before(e, c.Invoke.Time) {
			continue
		}
		if seen.after(e, c.Complete.Time) || dequeuedAfter(el, c.Complete.Time) {
			returned = append(returned, e)
			continue
		}
		explained := false
		for _, dq := range el.okDequeues {
			explained = explained || dq.Invoke.Time <= c.Complete.Time
		}
		for _, t := range el.infoTries {
			explained = explained || t <= c.Complete.Time
		}
		switch {
		case explained && len(el.okDequeues) == 0:
			maybe = append(maybe, e)
		case !explained:
			missing = append(missing, e)
		}
	}
	wild := 0
	for _, t := range wildcards {
		if t <= c.Complete.Time {
			wild++
		}
	}
	nr := NodeResult{Node: r.Node, Present: len(c.Complete.Values), Verdict: checker.Valid, read: c.Invoke.Index}
	if len(missing) > wild {
		nr.Lost, nr.LostAtLeast = znodes.SampleOf(missing), len(missing)-wild
	} else {
		maybe = append(maybe, missing...)
	}
	nr.MaybeTaken, nr.Resurrected, nr.Phantom = znodes.SampleOf(maybe), znodes.SampleOf(resurrected), znodes.SampleOf(phantom)
	nr.FailedPresent, nr.Duplicated, nr.Recovered = znodes.SampleOf(failed), znodes.SampleOf(dup), znodes.SampleOf(recovered)
	nr.Returned = znodes.SampleOf(returned)
	if nr.LostAtLeast+nr.Resurrected.Count+nr.Returned.Count+nr.Phantom.Count+nr.FailedPresent.Count+nr.Duplicated.Count > 0 {
		nr.Verdict = checker.Invalid
	}
	return nr, skips
}

// ackedEnqueueBefore reports whether an enqueue of the element completed ok
// before t.
func ackedEnqueueBefore(el *element, t int64) bool {
	for _, c := range el.enqueues {
		if c.Type() == history.OK && c.Complete.Time < t {
			return true
		}
	}
	return false
}

// finding is one kind of wrong the queue shows, and its elements.
type finding struct {
	kind, what string
	s          znodes.ElementSample
}

// String renders the finding as the message names it.
func (f finding) String() string { return fmt.Sprintf("%s %s", f.what, f.s) }

// present keeps the findings that have elements.
func present(fs ...finding) []finding {
	var out []finding
	for _, f := range fs {
		if f.s.Count > 0 {
			out = append(out, f)
		}
	}
	return out
}

// nodeFindings lists what is wrong with a node's final read.
func nodeFindings(n NodeResult) []finding {
	lost := finding{"lost element", fmt.Sprintf("lost at least %d of the acknowledged elements", n.LostAtLeast), n.Lost}
	if n.LostAtLeast == 0 {
		lost.s = znodes.ElementSample{}
	}
	return present(lost,
		finding{"resurrected", "still holds elements already dequeued", n.Resurrected},
		finding{"returned", "lacks elements seen before and after it", n.Returned},
		finding{"phantom", "holds elements never enqueued", n.Phantom},
		finding{"failed enqueue present", "holds elements whose enqueue certainly failed", n.FailedPresent},
		finding{"duplicate", "holds elements twice", n.Duplicated})
}

// dequeueFindings lists what is wrong with the dequeues.
func dequeueFindings(d Details) []finding {
	return present(
		finding{"dequeued twice", "dequeued twice", d.DequeuedTwice},
		finding{"phantom dequeue", "dequeued but never enqueued", d.PhantomDequeued},
		finding{"failed enqueue dequeued", "dequeued though their enqueue certainly failed", d.FailedDequeued},
		finding{"moved path", "dequeued from another znode than their enqueue created", d.MovedPath})
}

func describeNode(n NodeResult) string {
	var parts []string
	for _, f := range nodeFindings(n) {
		parts = append(parts, f.String())
	}
	return fmt.Sprintf("node %s %s", n.Node, strings.Join(parts, ", "))
}

func summary(d Details) string {
	var present []string
	for _, n := range d.Nodes {
		present = append(present, fmt.Sprintf("%s %d", n.Node, n.Present))
	}
	s := fmt.Sprintf("enqueues %d ok / %d fail / %d info, dequeues %d ok / %d fail (%d empty) / %d info",
		d.Enqueues.OK, d.Enqueues.Fail, d.Enqueues.Info, d.Dequeues.OK, d.Dequeues.Fail, d.Empty, d.Dequeues.Info)
	if len(present) > 0 {
		s += "; left at the end: " + strings.Join(present, ", ")
	}
	if d.Overtaken > 0 {
		s += fmt.Sprintf("; %s overtaken by an overlapping dequeue of a newer element (allowed)",
			checker.Plural(d.Overtaken, "dequeue", "dequeues"))
	}
	return s
}
