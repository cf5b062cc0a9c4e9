// Package nemesis injects faults into a cluster on a schedule driven by the
// scenario's seed, records every action in the history, and heals every fault
// it injected, also when the run is interrupted.
//
// A fault is a small type behind Fault; the kinds are kill, pause,
// partition (grudges of every shape, reset or hang), clients (cut clients off
// their node), link (delay, jitter, loss), clock (bump, strobe, rate),
// upgrade / rollback (restart every node, one at a time, on another
// distribution) and reconfig (change the membership: remove a voter, make
// one an observer, grow by the spares). Targets are resolved by role at
// injection time.
package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Fault is one kind of fault with its parameters. What its records are
// called (the f of its injection and of its heal) is its kind's entry in
// fault.Table.
type Fault interface {
	// Kind is the fault's kind, e.g. kill.
	Kind() fault.Kind
	// Label names the fault in records and reports, e.g. "kill leader".
	Label() string
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

// FromSpecs builds the faults of a scenario, whose specs its loading
// resolved, and checks that the cluster can do each one.
func FromSpecs(specs []Spec, c cluster.Cluster) ([]Fault, error) {
	var out []Fault
	for _, s := range specs {
		f, err := New(s)
		if err != nil {
			return nil, err
		}
		if err := s.available(c); err != nil {
			return nil, fmt.Errorf("fault %q: %w", f.Label(), err)
		}
		out = append(out, f)
	}
	return out, nil
}

// available is the one answer to whether the cluster can do a fault: the
// capability its kind's entry in fault.Table names (or a clock rate
// change's), asked through cluster.Check, and enough nodes for a
// majorities ring. Fault construction, the script and HealAll all ask it.
func (s Spec) available(c cluster.Cluster) error {
	if err := cluster.Supports(c, s.needs()); err != nil {
		return err
	}
	if s.Kind == fault.Partition && s.Grudge == GrudgeMajoritiesRing && len(c.Nodes()) < 5 {
		return fmt.Errorf("a majorities ring needs at least 5 nodes, the ensemble has %d", len(c.Nodes()))
	}
	return nil
}

// Needs is what the faults and the script steps ask of a cluster, so that
// the backend starts the ensemble with the means to (links it can cut,
// clocks it can move).
func Needs(specs []Spec, steps []ScriptStep) cluster.Capabilities {
	caps := cluster.Capabilities{}
	for _, s := range specs {
		caps[s.needs()] = true
	}
	for _, st := range steps {
		if k, ok := st.kind(); ok {
			caps[Spec{Kind: k}.needs()] = true
		}
	}
	return caps
}

// Distributions lists, once each, the distributions that resolved faults
// restart nodes on (upgrade and rollback), so that they can be fetched and
// checked before anything starts.
func Distributions(specs []Spec) []string {
	var out []string
	for _, s := range specs {
		if (s.Kind == fault.Upgrade || s.Kind == fault.Rollback) && s.To != "" && !slices.Contains(out, s.To) {
			out = append(out, s.To)
		}
	}
	return out
}
