package watch

import (
	"fmt"

	"github.com/zkchaos/zkchaos/checker"
)

// Evidence lists the example violations, each with the calls involved.
func (d Details) Evidence() []checker.Anomaly {
	out := make([]checker.Anomaly, 0, len(d.Violations))
	for _, v := range d.Violations {
		a := checker.Anomaly{Kind: v.Rule, Key: v.Key, Text: v.Message}
		if v.Session != 0 {
			a.Facts = []checker.Fact{{Name: "session", Value: fmt.Sprintf("0x%x", v.Session)}}
		}
		for _, idx := range v.invoked {
			a.Ops = append(a.Ops, checker.Op("involved", idx))
		}
		out = append(out, a)
	}
	return out
}
