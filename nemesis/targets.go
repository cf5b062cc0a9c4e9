package nemesis

import (
	"context"
	"math/rand/v2"

	"github.com/zkchaos/zkchaos/cluster"
)

// choice is what one injection may draw at random, drawn up front in the same
// amount whatever the fault, so that a seeded schedule's later steps do not
// depend on which fault came first or on who led at the time.
type choice struct {
	perm []int // a random order of the nodes
}

func draw(rng *rand.Rand, n int) choice { return choice{perm: rng.Perm(n)} }

// resolveTarget picks the nodes a target names, now. A leader that cannot
// be found (an election in progress) falls back to a random node, and detail
// says so.
func resolveTarget(ctx context.Context, c cluster.Cluster, target string, ch choice) (nodes []cluster.Node, detail string) {
	all := c.Nodes()
	n := len(all)
	ordered := make([]cluster.Node, n)
	for i, p := range ch.perm {
		ordered[i] = all[p]
	}
	switch target {
	case TargetAll:
		return all, ""
	case TargetMinority:
		return ordered[:max(1, (n-1)/2)], ""
	case TargetMajority:
		return ordered[:n/2+1], ""
	case TargetLeader, TargetFollower, TargetFollowers:
		leader, detail := findLeader(ctx, c, ordered[0])
		switch target {
		case TargetLeader:
			return []cluster.Node{leader}, detail
		case TargetFollower:
			for _, node := range ordered {
				if node.Name != leader.Name {
					return []cluster.Node{node}, detail
				}
			}
			return []cluster.Node{leader}, detail
		}
		var rest []cluster.Node
		for _, node := range all {
			if node.Name != leader.Name {
				rest = append(rest, node)
			}
		}
		return rest, detail
	default: // one
		return ordered[:1], ""
	}
}

// findLeader returns the current leader, or fallback with an explanation.
func findLeader(ctx context.Context, c cluster.Cluster, fallback cluster.Node) (cluster.Node, string) {
	name := cluster.LeaderOf(c.Roles(ctx))
	for _, node := range c.Nodes() {
		if node.Name == name {
			return node, ""
		}
	}
	return fallback, "no single leader found; took " + fallback.Name + " instead"
}

func names(nodes []cluster.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}
