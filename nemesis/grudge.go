package nemesis

import (
	"fmt"
	"slices"

	"github.com/zkchaos/zkchaos/cluster"
)

// buildGrudge computes who cannot hear whom for a partition shape. ordered is
// every node in a random order (the seed's), targets the nodes a target
// resolved to (isolate and one-way only). It is a pure function.
func buildGrudge(shape string, ordered, targets []string) (cluster.Grudge, error) {
	n := len(ordered)
	g := cluster.Grudge{}
	switch shape {
	case GrudgeIsolate:
		cutBetween(g, targets, without(ordered, targets))
	case GrudgeHalves:
		cutBetween(g, ordered[:n/2], ordered[n/2:])
	case GrudgeBridge:
		if n < 3 {
			return nil, fmt.Errorf("a bridge needs at least 3 nodes, the ensemble has %d", n)
		}
		// ordered[0] is the bridge: it hears both sides, which cannot hear
		// each other.
		cutBetween(g, ordered[1:1+(n-1)/2], ordered[1+(n-1)/2:])
	case GrudgeMajoritiesRing:
		if n < 5 {
			return nil, fmt.Errorf("a majorities ring needs at least 5 nodes (with fewer every majority sees everyone), the ensemble has %d", n)
		}
		// In a ring, each node hears the nodes within radius: a majority
		// of its own, different from every other node's.
		majority := n/2 + 1
		radius := majority / 2
		for i, a := range ordered {
			for j, b := range ordered {
				d := min((i-j+n)%n, (j-i+n)%n)
				if d > radius {
					g[a] = append(g[a], b)
				}
			}
		}
	case GrudgeOneWay:
		// Nobody hears the targets; the targets still hear everyone.
		for _, other := range without(ordered, targets) {
			g[other] = append(g[other], targets...)
		}
	default:
		return nil, fmt.Errorf("unknown grudge %q", shape)
	}
	for k := range g {
		slices.Sort(g[k])
	}
	return g, nil
}

// cutBetween makes sides a and b deaf to each other.
func cutBetween(g cluster.Grudge, a, b []string) {
	for _, x := range a {
		g[x] = append(g[x], b...)
	}
	for _, y := range b {
		g[y] = append(g[y], a...)
	}
}

func without(all, drop []string) []string {
	var out []string
	for _, x := range all {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

// grudgeNodes lists every node a grudge mentions, sorted.
func grudgeNodes(g cluster.Grudge) []string {
	var out []string
	for a, bs := range g {
		out = append(out, a)
		out = append(out, bs...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
