package sequential

import (
	"fmt"
	"strconv"
	"time"

	"github.com/zkchaos/zkchaos/checker"
)

// Evidence lists the example violations, each with the operations it
// involves, then the example malformed records.
func (d Details) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	for _, v := range d.Examples {
		a := checker.Anomaly{Kind: v.Rule, Key: v.Key, Text: v.Explanation, Ops: refs(v.Ops...)}
		if v.Session != "" {
			a.Facts = []checker.Fact{{Name: "session", Value: v.Session}}
		}
		out = append(out, a)
	}
	for _, m := range d.MalformedExamples {
		out = append(out, checker.Anomaly{Kind: "malformed record", Text: m})
	}
	return out
}

// Evidence lists the example stale reads, each with the write it missed.
func (d StaleReadsDetails) Evidence() []checker.Anomaly {
	out := make([]checker.Anomaly, 0, len(d.Examples))
	for _, s := range d.Examples {
		node := s.Node
		if node == "" {
			node = "an unknown server"
		}
		out = append(out, checker.Anomaly{
			Kind: "stale read", Key: s.Key,
			Text: fmt.Sprintf("%s answered a read of %s with version %d, %s behind version %d; the first newer write had been acknowledged %s before the read was invoked",
				node, s.Key, s.ReadVersion, checker.Plural(int(s.VersionsBehind), "version", "versions"), s.LatestVersion, s.Lag.Round(time.Microsecond)),
			Facts: []checker.Fact{
				{Name: "node", Value: s.Node},
				{Name: "read version", Value: strconv.Itoa(int(s.ReadVersion))},
				{Name: "latest version", Value: strconv.Itoa(int(s.LatestVersion))},
				{Name: "lag", Value: s.Lag.String()},
			},
			Ops: refs(s.Read, s.Latest),
		})
	}
	return out
}

// refs names the operations involved by their invocation records.
func refs(ops ...InvolvedOp) []checker.OpRef {
	out := make([]checker.OpRef, len(ops))
	for i, o := range ops {
		out[i] = checker.Op(o.Role, o.Invoke.Index)
	}
	return out
}
