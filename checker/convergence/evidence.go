package convergence

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zkchaos/zkchaos/checker"
)

// mismatch is a digest counter of a node's mntr that found its data tree
// inconsistent.
type mismatch struct {
	node, counter string
	n             int64
}

// String renders the mismatch as the message names it: "n1 digest_mismatches_count=2".
func (m mismatch) String() string { return fmt.Sprintf("%s %s=%d", m.node, m.counter, m.n) }

// digestMismatches lists the counters of digest that report a mismatch, by
// node and counter.
func digestMismatches(digest map[string]map[string]int64) []mismatch {
	var out []mismatch
	for node, m := range digest {
		for k, v := range m {
			if strings.Contains(k, "mismatch") && v > 0 {
				out = append(out, mismatch{node, k, v})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Evidence lists the digest mismatches the servers reported, each with the
// node's snapshot record, then the znodes the replicas disagree on, each
// with every snapshot compared.
func (d Details) Evidence() []checker.Anomaly {
	var out []checker.Anomaly
	for _, m := range digestMismatches(d.Digest) {
		a := checker.Anomaly{Kind: "digest mismatch", Key: m.node,
			Text:  "the server's own digest check found its data tree inconsistent: " + m.String(),
			Facts: []checker.Fact{{Name: "counter", Value: m.counter}, {Name: "count", Value: strconv.FormatInt(m.n, 10)}}}
		if idx, ok := d.snapshots[m.node]; ok {
			a.Ops = []checker.OpRef{checker.Op("snapshot of "+m.node, idx)}
		}
		out = append(out, a)
	}
	nodes := make([]string, 0, len(d.Nodes))
	for n := range d.Nodes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for i, diff := range d.Differences {
		a := checker.Anomaly{Kind: "replicas differ", Text: diff}
		if i < len(d.differ) {
			a.Key = d.differ[i]
		}
		for _, n := range nodes {
			a.Ops = append(a.Ops, checker.Op("snapshot of "+n, d.snapshots[n]))
		}
		out = append(out, a)
	}
	return out
}
