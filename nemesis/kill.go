package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/zkchaos/zkchaos/cluster"
)

// kill SIGKILLs one node chosen by pick; healing starts it again.
type kill struct {
	name string
	pick func(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (node cluster.Node, detail string)
}

func (k kill) Name() string       { return k.name }
func (k kill) Action() string     { return "kill" }
func (k kill) HealAction() string { return "start" }

func (k kill) Available(c cluster.Cluster) bool {
	_, ok := c.(cluster.Killer)
	return ok
}

func (k kill) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	killer, ok := c.(cluster.Killer)
	if !ok {
		return nil, errors.New("cluster cannot kill nodes")
	}
	node, detail := k.pick(ctx, c, rng)
	if err := killer.Kill(ctx, node); err != nil {
		return nil, fmt.Errorf("%s: kill %s: %w", k.name, node.Name, err)
	}
	return &killed{c: killer, node: node, detail: detail}, nil
}

type killed struct {
	c      cluster.Killer
	node   cluster.Node
	detail string
}

func (k *killed) Targets() []string { return []string{k.node.Name} }
func (k *killed) Detail() string    { return k.detail }

func (k *killed) Heal(ctx context.Context) error {
	if k.c.Running(k.node) {
		return nil
	}
	if err := k.c.Start(ctx, k.node); err != nil {
		return fmt.Errorf("start %s: %w", k.node.Name, err)
	}
	return nil
}

// pickRandom chooses a node uniformly with the schedule's generator.
func pickRandom(_ context.Context, c cluster.Cluster, rng *rand.Rand) (cluster.Node, string) {
	nodes := c.Nodes()
	return nodes[rng.IntN(len(nodes))], ""
}

// pickLeader chooses the node that leads now. It draws from rng like
// pickRandom, so that the rest of a seeded schedule does not depend on which
// faults were picked, and falls back to that draw when no single leader is
// found (an election in progress).
func pickLeader(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (cluster.Node, string) {
	nodes := c.Nodes()
	fallback := nodes[rng.IntN(len(nodes))]
	leader := cluster.LeaderOf(c.Roles(ctx))
	for _, n := range nodes {
		if n.Name == leader {
			return n, ""
		}
	}
	return fallback, "no single leader found; killed a random node instead"
}
