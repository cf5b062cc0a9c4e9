package oracle

import (
	"fmt"
	"slices"

	"github.com/zkchaos/zkchaos/history"
)

// queueElement is what the history says about one element of the queue.
type queueElement struct {
	// steps are its enqueues and the dequeues that took or may have taken
	// it.
	steps []elemStep
	// name is the znode its acknowledged enqueue created.
	name string
	// dequeued are the ok dequeues that took it.
	dequeued []sqCall
}

// taken is an ok dequeue with the number of the znode it took.
type taken struct {
	call sqCall
	num  int64
}

// Queue judges a queue workload history (unique elements enqueued as
// sequential znodes, dequeued lowest name first, the queue read in full by
// final reads) by what queue.Checker documents. It returns valid when no
// violation is found, and decided false when the history holds too little
// evidence to call it valid: a record without its element, no ok read, no
// acknowledged enqueue, or a node the history names without an ok read.
//
// Each element on its own must have a linearization consistent with real
// time of its enqueues, the dequeues that took or tried to take it, and
// every ok read: enqueued once, taken at most once and only while present,
// and listed by a read exactly when present. A dequeue that timed out
// before anyone knew its element may have taken any one element: the
// oracle tries every way of giving such dequeues to the elements that
// need one. Across elements it holds only what queue.Checker claims: an
// element dequeued from the znode its enqueue created, acknowledged
// sequential names unique and in real-time order, and no element with a
// lower number than one whose ok dequeue had completed dequeued or listed
// later.
func Queue(ops []history.Op) (valid, decided bool, err error) {
	h := splitCalls(ops)
	reads := h.reads()
	elems := map[int64]*queueElement{}
	get := func(e int64) *queueElement {
		if elems[e] == nil {
			elems[e] = &queueElement{}
		}
		return elems[e]
	}
	var names []sequenced
	var wildcards []sqCall
	malformed, acked := 0, 0
	for _, c := range h.calls {
		switch {
		case c.inv.F == queueEnqueue && c.inv.Value == nil:
			malformed++
		case c.inv.F == queueEnqueue && !c.is(history.Fail):
			el := get(*c.inv.Value)
			el.steps = append(el.steps, changeStep(c, present, absent, present))
			if !c.is(history.OK) {
				continue
			}
			acked++
			if s, ok := sequentialName(c); ok {
				names = append(names, s)
				el.name = s.path
			}
		case c.inv.F != queueDequeue || c.is(history.Fail):
		case c.is(history.OK) && c.done.Value == nil:
			malformed++
		case c.done != nil && c.done.Value != nil:
			el := get(*c.done.Value)
			el.steps = append(el.steps, changeStep(c, removed, present))
			if c.is(history.OK) {
				el.dequeued = append(el.dequeued, c)
			}
		default:
			wildcards = append(wildcards, c)
		}
	}
	for _, e := range listedElements(reads) {
		get(e) // listed: judged even if never written
	}
	ok, err := queueElementsLinearizable(elems, reads, wildcards)
	if err != nil {
		return false, false, fmt.Errorf("queue: %w", err)
	}
	if !ok || !namesFollowRealTime(names) || !queueOrderKept(elems, reads) {
		return false, true, nil
	}
	return true, malformed == 0 && len(reads) > 0 && acked > 0 && !h.unread(reads), nil
}

// queueElementsLinearizable reports whether every element has a
// linearization, some with the help of a wildcard dequeue each.
func queueElementsLinearizable(elems map[int64]*queueElement, reads, wildcards []sqCall) (bool, error) {
	var needy []int64
	for e, el := range elems {
		ok, err := judgeElement(e, el.steps, reads)
		if err != nil {
			return false, err
		}
		if !ok {
			needy = append(needy, e)
		}
	}
	if len(needy) > len(wildcards) {
		return false, nil
	}
	return assignWildcards(elems, needy, reads, wildcards, make([]bool, len(wildcards)))
}

// assignWildcards tries every way of giving each needy element a wildcard
// dequeue of its own, not yet used.
func assignWildcards(elems map[int64]*queueElement, needy []int64, reads, wildcards []sqCall, used []bool) (bool, error) {
	if len(needy) == 0 {
		return true, nil
	}
	e := needy[0]
	for i, w := range wildcards {
		if used[i] {
			continue
		}
		ok, err := judgeElement(e, append(slices.Clip(elems[e].steps), changeStep(w, removed, present)), reads)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		used[i] = true
		if ok, err := assignWildcards(elems, needy[1:], reads, wildcards, used); ok || err != nil {
			return ok, err
		}
		used[i] = false
	}
	return false, nil
}

// queueOrderKept holds the queue to the order of the znodes' numbers:
// every element is dequeued from the znode its enqueue created, and none
// with a lower number than one whose ok dequeue had completed is dequeued
// or listed by a read begun after that.
func queueOrderKept(elems map[int64]*queueElement, reads []sqCall) bool {
	var deqs []taken
	for _, el := range elems {
		for _, d := range el.dequeued {
			path := d.done.Path
			if path != "" && el.name != "" && path != el.name {
				return false
			}
			if path == "" {
				path = el.name
			}
			if n, ok := sequenceNumber(path); ok {
				deqs = append(deqs, taken{call: d, num: n})
			}
		}
	}
	for _, a := range deqs {
		for _, b := range deqs {
			if precedes(b.call, a.call) && b.num > a.num {
				return false
			}
		}
	}
	for _, r := range reads {
		for _, e := range r.done.Values {
			el := elems[e]
			if el == nil || el.name == "" {
				continue
			}
			n, _ := sequenceNumber(el.name)
			for _, b := range deqs {
				if precedes(b.call, r) && b.num > n {
					return false
				}
			}
		}
	}
	return true
}
