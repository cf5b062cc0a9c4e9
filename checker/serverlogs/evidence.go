package serverlogs

import (
	"sort"

	"github.com/zkchaos/zkchaos/checker"
)

// Evidence lists, node by node, the lines that show ZooKeeper itself going
// wrong, and the logs that could not be read whole. Logs are not part of
// the history, so no operation is named.
func (d Details) Evidence() []checker.Anomaly {
	nodes := make([]string, 0, len(d))
	for n := range d {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var out []checker.Anomaly
	for _, n := range nodes {
		nl := d[n]
		for _, line := range nl.Bad {
			out = append(out, checker.Anomaly{Kind: "bad log line", Key: n, Text: line})
		}
		if nl.Error != "" {
			out = append(out, checker.Anomaly{Kind: "log not read whole", Key: n, Text: nl.Error})
		}
	}
	return out
}
