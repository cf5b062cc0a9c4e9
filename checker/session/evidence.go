package session

import (
	"fmt"

	"github.com/zkchaos/zkchaos/checker"
)

// Evidence lists the example violations, each with the existence check
// that broke the rule.
func (d Details) Evidence() []checker.Anomaly {
	out := make([]checker.Anomaly, 0, len(d.Examples))
	for _, v := range d.Examples {
		out = append(out, checker.Anomaly{
			Kind: v.Kind, Key: v.Path, Text: v.Evidence,
			Facts: []checker.Fact{{Name: "owner", Value: fmt.Sprintf("0x%x", v.Owner)}, {Name: "process", Value: v.Process.String()}},
			Ops:   []checker.OpRef{checker.Op("check", v.invoked)},
		})
	}
	return out
}
