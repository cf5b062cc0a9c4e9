// Package queue judges the queue workload, a FIFO queue of sequential
// znodes: every acknowledged element comes out exactly once, none is skipped,
// and sequential names follow real time.
package queue

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

// Operation names and outcomes of the queue workload.
const (
	// Enqueue creates a sequential znode holding the element (Value);
	// an ok completion carries the name ZooKeeper gave it (Path).
	Enqueue = "enqueue"
	// Dequeue takes the lowest-numbered znode the session sees and
	// deletes it; an ok completion carries the element (Value), the znode
	// (Path) and its creation zxid. An info completion carries the element
	// when the delete of a known znode was in flight, and none when the
	// operation timed out before anyone knew which znode it would take.
	Dequeue = "dequeue"
	// Empty is the Error of a dequeue that failed because the session
	// saw no element at all.
	Empty = "empty"
)

// Checker checks the queue workload: a FIFO queue made of sequential znodes,
// dequeued by listing the children, taking the lowest name, and deleting it
// (the next lowest if another worker was faster). It tests what ZooKeeper
// promises, and nothing more:
//
//   - dequeued twice: an element taken by two ok dequeues, present twice in
//     a final read, or present in a final read begun after an ok dequeue of
//     it had completed (deletes are linearizable: a znode goes once);
//   - lost: an element in the queue before a node's final read began (its
//     enqueue acknowledged, or an earlier read listed it), not dequeued,
//     absent from that node's read; an indeterminate dequeue known to have
//     tried that element, or one that may have taken any element (it timed
//     out), explains one absence each;
//   - returned: an element in the queue before a read began, absent from
//     it, and seen after it ended (listed by a later read, or taken by an
//     ok dequeue begun later): no dequeue explains that, for a deleted
//     znode never comes back;
//   - phantom: an element dequeued or present that no enqueue had tried, or
//     whose every enqueue certainly failed;
//   - sequence: two acknowledged enqueues got the same name, or one that
//     completed before another began got the higher number (names come from
//     the parent's child version, in commit order);
//   - skipped: an element with a lower number than one whose ok dequeue had
//     completed was dequeued (ok) or present in a final read only after that.
//     Why this holds: a session's view is a prefix of the commit order, so a
//     view that holds B holds every element created before B, or its delete;
//     the dequeuer tries lower names first and moves on only when a name is
//     gone, so B is deleted only after every lower element was deleted.
//     Dequeues that merely overlap may complete in either order: those are
//     counted as "overtaken", as information, never as a violation.
//
// The verdict is unknown when no enqueue was acknowledged, no final read
// exists, or a node known to the history has no final read.
type Checker struct{}

// Name returns "queue".
func (Checker) Name() string { return "queue" }

// Skip is an order violation: Older had a lower number than Newer, yet
// was dequeued or still present after Newer's ok dequeue had completed.
type Skip struct {
	// Older is the element that was skipped.
	Older znodes.SequencedElement `json:"older"`
	// Newer is the element dequeued before it.
	Newer znodes.SequencedElement `json:"newer"`
	// How says where Older was found: "dequeued later" or "present on NODE".
	How string `json:"how"`
}

// NodeResult is what one node's final read showed.
type NodeResult struct {
	// Node is the server that was read.
	Node string `json:"node"`
	// Present is how many elements the read returned.
	Present int `json:"present"`
	// Verdict is this node's verdict.
	Verdict checker.Verdict `json:"verdict"`
	// Lost are acknowledged, undequeued elements absent from the read,
	// beyond what indeterminate dequeues can explain; LostAtLeast is how
	// many of them must really be lost.
	Lost        znodes.ElementSample `json:"lost"`
	LostAtLeast int                  `json:"lost_at_least,omitempty"`
	// MaybeTaken are absent elements that indeterminate dequeues may have
	// taken: allowed.
	MaybeTaken znodes.ElementSample `json:"maybe_taken"`
	// Resurrected are elements present after an ok dequeue of them had
	// completed.
	Resurrected znodes.ElementSample `json:"resurrected"`
	// Returned are elements absent from the read though the queue held
	// them before it and they were seen after it.
	Returned znodes.ElementSample `json:"returned"`
	// Phantom are elements present that no enqueue had attempted.
	Phantom znodes.ElementSample `json:"phantom"`
	// FailedPresent are elements present whose every enqueue certainly
	// failed.
	FailedPresent znodes.ElementSample `json:"failed_present"`
	// Duplicated are elements present more than once.
	Duplicated znodes.ElementSample `json:"duplicated"`
	// Recovered are present elements whose enqueue was indeterminate.
	Recovered znodes.ElementSample `json:"recovered"`
	// read is the index of the final read's invocation record.
	read int64
}

// Details is the evidence of the queue Checker.
type Details struct {
	// Enqueues and Dequeues count how the operations ended.
	Enqueues stats.Counts `json:"enqueues"`
	Dequeues stats.Counts `json:"dequeues"`
	// Empty is how many dequeues found the queue empty.
	Empty int `json:"empty"`
	// DequeuedTwice are elements taken by more than one ok dequeue.
	DequeuedTwice znodes.ElementSample `json:"dequeued_twice"`
	// PhantomDequeued are elements dequeued that no enqueue had attempted.
	PhantomDequeued znodes.ElementSample `json:"phantom_dequeued"`
	// FailedDequeued are elements dequeued whose every enqueue certainly
	// failed.
	FailedDequeued znodes.ElementSample `json:"failed_dequeued"`
	// MovedPath are elements dequeued from another znode than their
	// enqueue created.
	MovedPath znodes.ElementSample `json:"moved_path"`
	// Sequence is the check of the enqueues' sequential names.
	Sequence znodes.SequenceCheck `json:"sequence"`
	// Skipped counts order violations; SkipExamples are up to 20 of them.
	Skipped      int    `json:"skipped"`
	SkipExamples []Skip `json:"skip_examples,omitempty"`
	// Overtaken counts ok dequeues that completed after a dequeue of a
	// newer element that overlapped them: allowed, for information.
	Overtaken int `json:"overtaken"`
	// Nodes are the per-node results of the final reads.
	Nodes []NodeResult `json:"nodes"`
	// Unread lists nodes seen in the history that have no final read.
	Unread []string `json:"unread,omitempty"`
	// Malformed counts operations lacking what the checker needs.
	Malformed int `json:"malformed,omitempty"`
	// calls are each element's enqueues and ok dequeues.
	calls map[int64][]checker.OpRef
}

// element is what the history says about one element.
type element struct {
	enqueues   []history.Call
	okPath     string
	okIndex    int64 // the invocation record of the enqueue that made okPath
	okDequeues []history.Call
	// infoTries are the invoke times of indeterminate dequeues that tried
	// this element.
	infoTries []int64
}

// okDequeue is an ok dequeue with the number of the znode it took.
type okDequeue struct {
	znodes.SequencedElement
	index int
}

// Check judges the queue workload's history; the result's Details is a Details.
func (q Checker) Check(ctx context.Context, ops []history.Op) checker.Result {
	start := time.Now()
	r := q.check(ctx, ops)
	r.Checker = q.Name()
	r.Duration = time.Since(start)
	return r
}

func (Checker) check(ctx context.Context, ops []history.Op) checker.Result {
	if err := ctx.Err(); err != nil {
		return checker.Result{Verdict: checker.Unknown, Message: "the check did not run: " + err.Error()}
	}
	calls := history.Calls(ops)
	var d Details
	elems := map[int64]*element{}
	get := func(e int64) *element {
		el := elems[e]
		if el == nil {
			el = &element{}
			elems[e] = el
		}
		return el
	}
	var wildcards []int64 // invoke times of indeterminate dequeues of unknown elements
	var seqCreates []znodes.Create
	var dequeueCalls []history.Call
	for _, c := range calls {
		switch c.Invoke.F {
		case Enqueue:
			if c.Invoke.Value == nil {
				d.Malformed++
				continue
			}
			e := *c.Invoke.Value
			el := get(e)
			el.enqueues = append(el.enqueues, c)
			d.cite(e, "enqueue", c)
			switch c.Type() {
			case history.OK:
				d.Enqueues.OK++
				if p, n, ok := znodes.SequentialName(c); ok {
					el.okPath, el.okIndex = p, c.Invoke.Index
					seqCreates = append(seqCreates, znodes.Create{Element: e, Path: p, Seq: n,
						Invoke: c.Invoke.Time, Complete: c.Complete.Time, Index: c.Invoke.Index})
				}
			case history.Fail:
				d.Enqueues.Fail++
			default:
				d.Enqueues.Info++
			}
		case Dequeue:
			dequeueCalls = append(dequeueCalls, c)
		}
	}
	var deqs []okDequeue
	for _, c := range dequeueCalls {
		switch c.Type() {
		case history.OK:
			d.Dequeues.OK++
			if c.Complete.Value == nil {
				d.Malformed++
				continue
			}
			e := *c.Complete.Value
			el := get(e)
			el.okDequeues = append(el.okDequeues, c)
			d.cite(e, "dequeue", c)
			path := c.Complete.Path
			if path != "" && el.okPath != "" && path != el.okPath {
				d.MovedPath.First = append(d.MovedPath.First, e)
			}
			path = znodes.FirstPath(path, el.okPath)
			if n, ok := znodes.SequenceOf(path); ok {
				deqs = append(deqs, okDequeue{index: len(deqs), SequencedElement: znodes.SequencedElement{
					Element: e, Path: path, Seq: n, Invoke: c.Invoke.Time, Complete: c.Complete.Time, Index: c.Invoke.Index}})
			}
		case history.Fail:
			d.Dequeues.Fail++
			if c.Complete.Error == Empty {
				d.Empty++
			}
		default:
			d.Dequeues.Info++
			if c.Complete.Value != nil {
				el := get(*c.Complete.Value)
				el.infoTries = append(el.infoTries, c.Invoke.Time)
			} else {
				wildcards = append(wildcards, c.Invoke.Time)
			}
		}
	}
	d.MovedPath = znodes.SampleOf(d.MovedPath.First)
	d.Sequence = znodes.CheckSequence(seqCreates)

	var twice, phantom, failed []int64
	for e, el := range elems {
		if len(el.okDequeues) > 1 {
			twice = append(twice, e)
		}
		if len(el.okDequeues) == 0 {
			continue
		}
		attempted, allFailed := enqueuedBy(el, el.okDequeues[0].Complete.Time)
		if !attempted {
			phantom = append(phantom, e)
		} else if allFailed {
			failed = append(failed, e)
		}
	}
	d.DequeuedTwice, d.PhantomDequeued, d.FailedDequeued = znodes.SampleOf(twice), znodes.SampleOf(phantom), znodes.SampleOf(failed)

	order := newDequeueOrder(deqs)
	d.Skipped, d.Overtaken, d.SkipExamples = order.skippedAndOvertaken()

	reads, known := znodes.OKReads(calls, ops)
	d.Unread = znodes.NodesWithoutRead(known, reads)
	seen := sightingsOf(reads)
	for _, r := range reads {
		nr, skips := judgeRead(r, elems, wildcards, order, seen)
		d.Skipped += len(skips)
		for _, s := range skips {
			if len(d.SkipExamples) < znodes.ExamplesLimit {
				d.SkipExamples = append(d.SkipExamples, s)
			}
		}
		d.Nodes = append(d.Nodes, nr)
	}
	sort.SliceStable(d.Nodes, func(i, j int) bool { return d.Nodes[i].Node < d.Nodes[j].Node })

	var problems []string
	for _, f := range dequeueFindings(d) {
		problems = append(problems, fmt.Sprintf("elements %s: %s", f.what, f.s))
	}
	for _, n := range d.Nodes {
		if n.Verdict == checker.Invalid {
			problems = append(problems, describeNode(n))
		}
	}
	if p := d.Sequence.Problem(); p != "" {
		problems = append(problems, p)
	}
	if d.Skipped > 0 {
		s := d.SkipExamples[0]
		problems = append(problems, fmt.Sprintf("%s out of order (e.g. %s)", checker.Plural(d.Skipped, "element", "elements"), s))
	}

	res := checker.Result{Details: d}
	switch {
	case len(problems) > 0:
		res.Verdict = checker.Invalid
		res.Message = strings.Join(problems, "; ") + "."
	case d.Malformed > 0:
		res.Verdict = checker.Unknown
		res.Message = fmt.Sprintf("%s lacked the element it enqueued or dequeued, so what they did is unknown; nothing wrong was found in the rest: %s.",
			checker.Plural(d.Malformed, "record", "records"), summary(d))
	case len(reads) == 0:
		res.Verdict = checker.Unknown
		res.Message = "no evidence: no final read of the queue completed; " + summary(d) + "."
	case d.Enqueues.OK == 0:
		res.Verdict = checker.Unknown
		res.Message = "no evidence: no enqueue was acknowledged; " + summary(d) + "."
	case len(d.Unread) > 0:
		res.Verdict = checker.Unknown
		res.Message = fmt.Sprintf("no final read of %s; the rest agree: %s.", strings.Join(d.Unread, ", "), summary(d))
	default:
		res.Verdict = checker.Valid
		res.Message = "no element lost, dequeued twice, invented or taken out of order: " + summary(d) + "."
	}
	return res
}
