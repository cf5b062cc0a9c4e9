// Package nemesis injects faults into a cluster on a schedule driven by the
// scenario's seed, records every action in the history, and heals every fault
// it injected, also when the run is interrupted.
//
// A fault is a small type behind Fault; the kinds are kill, pause,
// partition (grudges of every shape, reset or hang), clients (cut clients off
// their node), link (delay, jitter, loss), clock (bump, strobe, rate) and
// upgrade / rollback (restart every node, one at a time, on another
// distribution). Targets are resolved by role at injection time.
package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/zkchaos/zkchaos/cluster"
)

// Fault is one kind of fault with its parameters.
type Fault interface {
	// Name labels the fault in records and reports, e.g. "kill leader".
	Name() string
	// Action names what injecting does, e.g. "kill"; it is the f of the
	// fault's history records.
	Action() string
	// HealAction names the action that undoes the fault, e.g. "start".
	HealAction() string
	// Available says why the cluster cannot do this fault, or nil.
	Available(c cluster.Cluster) error
	// Inject applies the fault now. rng supplies every random choice, so a
	// seeded schedule repeats itself. An Injection returned with an error
	// was partly applied and must still be healed.
	Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error)
}

// Injection is a fault in force.
type Injection interface {
	// Targets names the nodes the fault applies to.
	Targets() []string
	// Grudge is who cannot hear whom, for partitions; nil otherwise.
	Grudge() map[string][]string
	// Detail says anything a reader of the history should know, e.g. that
	// no leader was found and a random node was taken instead.
	Detail() string
	// Heal undoes the fault.
	Heal(ctx context.Context) error
}

// FromSpecs builds the faults of a scenario and checks that the cluster can do
// each one.
func FromSpecs(specs []Spec, c cluster.Cluster) ([]Fault, error) {
	var out []Fault
	for _, s := range specs {
		f, err := New(s.Resolved())
		if err != nil {
			return nil, err
		}
		if l, ok := c.(cluster.Limited); ok {
			if err := l.Unavailable(capability(s.Resolved())); err != nil {
				return nil, fmt.Errorf("fault %q: %w", f.Name(), err)
			}
		}
		if err := f.Available(c); err != nil {
			return nil, fmt.Errorf("fault %q: %w", f.Name(), err)
		}
		out = append(out, f)
	}
	return out, nil
}

// capability names what a fault asks of the cluster, for
// cluster.Limited: its kind, or "clock-rate" for a clock rate change.
func capability(s Spec) string {
	if s.Name == KindClock && s.Clock == ClockRate {
		return "clock-rate"
	}
	return s.Name
}

// Needs reports which cluster capabilities a list of faults requires, so the
// backend can be started with them.
func Needs(specs []Spec) (partitions, clocks bool) {
	for _, s := range specs {
		switch s.Resolved().Name {
		case KindPartition, KindClients, KindLink:
			partitions = true
		case KindClock:
			clocks = true
		}
	}
	return partitions, clocks
}

// Distributions lists, once each, the distributions that faults restart
// nodes on (upgrade and rollback), so that they can be fetched and checked
// before anything starts.
func Distributions(specs []Spec) []string {
	var out []string
	for _, s := range specs {
		s = s.Resolved()
		if (s.Name == KindUpgrade || s.Name == KindRollback) && s.To != "" && !slices.Contains(out, s.To) {
			out = append(out, s.To)
		}
	}
	return out
}

// IsHealAction reports whether f is the action that heals some fault.
func IsHealAction(f string) bool {
	return f == "start" || f == "resume" || f == "heal"
}
