package znodes

import (
	"fmt"

	"github.com/zkchaos/zkchaos/checker"
)

// Evidence lists the sequential names returned twice, with their creates,
// and the example inversions, with the two operations of each.
func (s SequenceCheck) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	for _, p := range s.SameName {
		a := checker.Anomaly{Kind: "same sequential name", Key: p,
			Text: fmt.Sprintf("two acknowledged creates both returned %s", p)}
		for _, idx := range s.creates[p] {
			a.Ops = append(a.Ops, checker.Op("create", idx))
		}
		out = append(out, a)
	}
	for _, e := range s.Examples {
		out = append(out, checker.Anomaly{
			Kind: "sequence inversion", Key: e.Later.Path,
			Text: fmt.Sprintf("%d at %s (number %d) began after %d at %s (number %d) had completed, yet got no higher number",
				e.Later.Element, e.Later.Path, e.Later.Seq, e.Earlier.Element, e.Earlier.Path, e.Earlier.Seq),
			Ops: []checker.OpRef{e.Earlier.Ref("earlier"), e.Later.Ref("later")},
		})
	}
	return out
}

// Ref names the operation that created or dequeued the element, in role,
// over the span of that operation.
func (e SequencedElement) Ref(role string) checker.OpRef {
	return checker.OpRef{Role: role, Index: e.Index, Start: e.Invoke, End: e.Complete}
}

// Samples names the operations behind each element of a sample, at most
// most elements, with the roles calls gives them.
func Samples(s ElementSample, most int, calls func(e int64) []checker.OpRef) []checker.OpRef {
	var out []checker.OpRef
	for i, e := range s.First {
		if i == most {
			break
		}
		out = append(out, calls(e)...)
	}
	return out
}
