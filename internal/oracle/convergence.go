package oracle

import (
	"fmt"
	"strings"

	"github.com/zkchaos/zkchaos/history"
)

// Convergence decides whether the replicas agree at the end of a run, from
// the harness's snapshot records (nemesis records "snapshot": a node's
// persistent znodes with version and data hash, its mntr digest counters,
// or the error that stopped its walk):
//
//   - a server whose own digest check counted a mismatch holds a data tree
//     that does not match the transactions it applied, whether or not its
//     walk finished: invalid;
//   - two nodes whose walks finished and that differ on any znode (held by
//     one and not the other, or held at another version or data): invalid;
//   - otherwise, fewer than two finished walks, or a node whose walk
//     failed, leave the answer unknown.
//
// It compares every pair of nodes on every path either holds.
func Convergence(ops []history.Op) Answer {
	trees := map[string]map[string]string{}
	var nodes []string
	failed := 0
	for _, op := range ops {
		if op.Process != history.NemesisProcess || op.F != history.FSnapshot {
			continue
		}
		for name, n := range op.Metrics {
			if strings.Contains(name, "mismatch") && n > 0 {
				return violated(fmt.Sprintf("%s reports %s=%d", op.Node, name, n))
			}
		}
		if op.Error != "" {
			failed++
			continue
		}
		if _, ok := trees[op.Node]; !ok {
			nodes = append(nodes, op.Node)
		}
		trees[op.Node] = op.Snapshot
	}
	for _, a := range nodes {
		for _, b := range nodes {
			for p, va := range trees[a] {
				if vb, ok := trees[b][p]; !ok || vb != va {
					return violated(fmt.Sprintf("%s holds %s as %s, %s as %q", a, p, va, b, vb))
				}
			}
		}
	}
	switch {
	case len(nodes) < 2:
		return cannotJudge(fmt.Sprintf("%d finished snapshots to compare", len(nodes)))
	case failed > 0:
		return cannotJudge(fmt.Sprintf("%d nodes could not be read", failed))
	}
	return holds()
}
