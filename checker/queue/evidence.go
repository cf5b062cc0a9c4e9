package queue

import (
	"fmt"
	"strconv"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/znodes"
	"github.com/zkchaos/zkchaos/history"
)

// citedElements bounds the elements of a finding whose calls are named.
const citedElements = 5

// cite records call, an enqueue or ok dequeue of element e, for evidence.
func (d *Details) cite(e int64, what string, c history.Call) {
	if d.calls == nil {
		d.calls = map[int64][]checker.OpRef{}
	}
	d.calls[e] = append(d.calls[e], checker.Op(what+" of "+strconv.FormatInt(e, 10), c.Invoke.Index))
}

// String says what happened: "5 at /q/e-3 was dequeued later after 6 at
// /q/e-4 had been dequeued".
func (s Skip) String() string {
	return fmt.Sprintf("%d at %s was %s after %d at %s had been dequeued", s.Older.Element, s.Older.Path, s.How, s.Newer.Element, s.Newer.Path)
}

// Evidence lists what is wrong with the dequeues and with each node's final
// read, with the enqueues and dequeues of the first elements involved, then
// the violations of the order of sequential names and of the queue's order.
func (d Details) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	calls := func(e int64) []checker.OpRef { return d.calls[e] }
	for _, f := range dequeueFindings(d) {
		out = append(out, checker.Anomaly{Kind: f.kind, Text: "elements " + f.String(),
			Facts: []checker.Fact{{Name: "elements", Value: strconv.Itoa(f.s.Count)}},
			Ops:   znodes.Samples(f.s, citedElements, calls)})
	}
	for _, n := range d.Nodes {
		for _, f := range nodeFindings(n) {
			out = append(out, checker.Anomaly{Kind: f.kind, Key: n.Node,
				Text:  fmt.Sprintf("the final read of node %s %s", n.Node, f),
				Facts: []checker.Fact{{Name: "elements", Value: strconv.Itoa(f.s.Count)}, {Name: "present", Value: strconv.Itoa(n.Present)}},
				Ops:   append([]checker.OpRef{checker.Op("final read", n.read)}, znodes.Samples(f.s, citedElements, calls)...)})
		}
	}
	out = append(out, d.Sequence.Evidence()...)
	for _, s := range d.SkipExamples {
		out = append(out, checker.Anomaly{Kind: "out of order", Key: s.Older.Path,
			Text: s.String(),
			Ops:  []checker.OpRef{s.Older.Ref("older"), s.Newer.Ref("newer")}})
	}
	return out
}
