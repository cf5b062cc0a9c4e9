package set

import (
	"fmt"
	"strconv"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/znodes"
)

// citedElements bounds the elements of a finding whose adds are named.
const citedElements = 5

// Evidence lists what each node's final read shows wrong, with the read
// and the adds of the first elements involved, then the violations of the
// order of sequential names.
func (d Details) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	adds := func(e int64) []checker.OpRef {
		var refs []checker.OpRef
		for _, idx := range d.adds[e] {
			refs = append(refs, checker.Op("add of "+strconv.FormatInt(e, 10), idx))
		}
		return refs
	}
	for _, n := range d.Nodes {
		for _, f := range findings(n) {
			out = append(out, checker.Anomaly{
				Kind: f.kind, Key: n.Node,
				Text:  fmt.Sprintf("the final read of node %s %s %s", n.Node, f.what, f.s),
				Facts: []checker.Fact{{Name: "elements", Value: strconv.Itoa(f.s.Count)}, {Name: "present", Value: strconv.Itoa(n.Present)}},
				Ops:   append([]checker.OpRef{checker.Op("final read", n.read)}, znodes.Samples(f.s, citedElements, adds)...),
			})
		}
	}
	return append(out, d.Sequence.Evidence()...)
}
