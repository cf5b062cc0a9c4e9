package lock

import "github.com/zkchaos/zkchaos/checker"

// Evidence lists the example overlaps of proven holds, then those in which
// a holder's session was not proven alive (allowed, but worth seeing), each
// with the overlap and the two acquires, spanning their holds.
func (d Details) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	for _, o := range d.ViolationExamples {
		out = append(out, o.anomaly("two holders"))
	}
	for _, o := range d.ExpiredExamples {
		out = append(out, o.anomaly("expired holder"))
	}
	return out
}

// anomaly makes an anomaly of kind of the overlap.
func (o Overlap) anomaly(kind string) checker.Anomaly {
	return checker.Anomaly{
		Kind: kind, Text: o.Explanation,
		Facts: []checker.Fact{
			{Name: "first holder", Value: "process " + o.First.Process.String()},
			{Name: "second holder", Value: "process " + o.Second.Process.String()},
			{Name: "first lock node", Value: o.First.Path},
			{Name: "second lock node", Value: o.Second.Path},
			{Name: "first ended by", Value: o.First.EndedBy},
			{Name: "second ended by", Value: o.Second.EndedBy},
			{Name: "overlap ms", Value: checker.Millis(o.To - o.From)},
		},
		Ops: []checker.OpRef{checker.Span("overlap", o.From, o.To), o.First.ref("first holder"), o.Second.ref("second holder")},
	}
}

// ref names the acquire of the hold, over the span of the hold.
func (h Hold) ref(role string) checker.OpRef {
	return checker.OpRef{Role: role, Index: h.invoked, Start: h.Acquired, End: h.Until}
}
