// Package nemesis injects faults into a cluster on a schedule driven by the
// scenario's seed, records every action in the history, and heals every fault
// it injected, also when the run is interrupted.
package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/zkchaos/zkchaos/cluster"
)

// Fault is one kind of fault the nemesis can inject.
type Fault interface {
	// Name is how scenarios spell the fault, e.g. "kill-leader".
	Name() string
	// Action names what injecting does, e.g. "kill"; HealAction what undoes
	// it, e.g. "start". They are the f of the fault's history records.
	Action() string
	// HealAction names the action that undoes the fault.
	HealAction() string
	// Available reports whether the cluster backend can do this fault.
	Available(c cluster.Cluster) bool
	// Inject applies the fault now. rng supplies every random choice, so a
	// seeded schedule repeats itself.
	Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error)
}

// Injection is a fault in force.
type Injection interface {
	// Targets names the nodes the fault applies to.
	Targets() []string
	// Detail says anything a reader of the history should know, e.g. that
	// no leader was found and a random node was taken instead.
	Detail() string
	// Heal undoes the fault.
	Heal(ctx context.Context) error
}

// All lists every fault, in the order a reader would look for them.
var All = []Fault{
	kill{name: "kill-random", pick: pickRandom},
	kill{name: "kill-leader", pick: pickLeader},
}

// ByNames resolves fault names and checks that the cluster can do each one.
func ByNames(names []string, c cluster.Cluster) ([]Fault, error) {
	var out []Fault
	for _, n := range names {
		i := slices.IndexFunc(All, func(f Fault) bool { return f.Name() == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown fault %q (known: %s)", n, strings.Join(Names(), ", "))
		}
		if !All[i].Available(c) {
			return nil, fmt.Errorf("fault %q is not available on this cluster backend", n)
		}
		out = append(out, All[i])
	}
	return out, nil
}

// Names lists the names of all faults.
func Names() []string {
	var names []string
	for _, f := range All {
		names = append(names, f.Name())
	}
	return names
}

// IsHealAction reports whether f is the action that heals some fault.
func IsHealAction(f string) bool {
	return slices.ContainsFunc(All, func(x Fault) bool { return x.HealAction() == f })
}
