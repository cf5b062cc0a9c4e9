package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// reconfig changes the ensemble's membership through dynamic
// reconfiguration: a voter leaves (remove), a voter becomes an observer
// (observer), or every spare joins as a voter (grow). Healing puts back the
// membership found before the injection, which the shrink of a grow is.
type reconfig struct{ base }

// reconfigInjection is a membership change in force; it knows the
// membership its injection, and later its heal, left.
type reconfigInjection struct {
	injection
	membership *history.Membership
}

// Membership is the configuration the last change (injection or heal) left,
// or nil when it could not be read.
func (r *reconfigInjection) Membership() *history.Membership { return r.membership }

// membershipOf is the membership an injection left, for its records; nil for
// faults that do not change it.
func membershipOf(inj Injection) *history.Membership {
	if r, ok := inj.(interface{ Membership() *history.Membership }); ok {
		return r.Membership()
	}
	return nil
}

// recorded turns a cluster's membership into its record; nil when it was
// not read.
func recorded(m cluster.Membership) *history.Membership {
	if m.Version == "" {
		return nil
	}
	return &history.Membership{Version: m.Version, Voters: m.Voters, Observers: m.Observers}
}

// restoring returns an injection whose heal sets the membership to want
// and records what it left.
func restoring(rc cluster.Reconfigurer, want cluster.Membership, targets []string, detail string) *reconfigInjection {
	inj := &reconfigInjection{injection: injection{targets: targets, detail: detail}}
	inj.injection.heal = func(ctx context.Context) error {
		after, err := rc.SetMembership(ctx, want)
		inj.membership = recorded(after)
		if err != nil {
			return fmt.Errorf("restore the membership %s: %w", want, err)
		}
		return nil
	}
	return inj
}

// Inject reads the membership, changes it as the spec says and returns an
// injection whose heal restores the membership read. A membership that
// cannot be read is not changed, and its heal restores the initial one.
func (r *reconfig) Inject(ctx context.Context, c cluster.Cluster, rng *rand.Rand) (Injection, error) {
	rc := c.(cluster.Reconfigurer)
	ch := draw(rng, len(c.Nodes()))
	before, err := rc.Membership(ctx)
	if err != nil {
		inj := restoring(rc, rc.Initial(), names(append(c.Nodes(), rc.Spares()...)), "membership unknown")
		return inj, err
	}
	want, targets, detail := r.change(ctx, c, rc, before, ch)
	inj := restoring(rc, before, targets, detail)
	if slices.Equal(want.Voters, before.Voters) && slices.Equal(want.Observers, before.Observers) {
		inj.membership = recorded(before)
		inj.detail = joinDetail(detail, "nothing to change: "+before.String())
		return inj, nil
	}
	after, err := rc.SetMembership(ctx, want)
	inj.membership = recorded(after)
	inj.detail = joinDetail(detail, before.String()+" -> "+after.String())
	if err != nil {
		return inj, fmt.Errorf("reconfig %s: %w", want, err)
	}
	return inj, nil
}

// change computes the membership the spec asks for from before, and the
// nodes it changes.
func (r *reconfig) change(ctx context.Context, c cluster.Cluster, rc cluster.Reconfigurer, before cluster.Membership, ch choice) (want cluster.Membership, targets []string, detail string) {
	want = cluster.Membership{Voters: slices.Clone(before.Voters), Observers: slices.Clone(before.Observers)}
	if r.spec.Change == ChangeGrow {
		for _, s := range rc.Spares() {
			if !before.Has(s.Name) {
				want.Voters = append(want.Voters, s.Name)
				targets = append(targets, s.Name)
			}
		}
		return want, targets, ""
	}
	nodes, detail := resolveTarget(ctx, c, r.spec.Target, ch)
	target := nodes[0].Name
	if !slices.Contains(before.Voters, target) {
		return want, []string{target}, joinDetail(detail, target+" is no voter")
	}
	want.Voters = slices.DeleteFunc(want.Voters, func(v string) bool { return v == target })
	if r.spec.Change == ChangeObserver {
		want.Observers = append(want.Observers, target)
	}
	return want, []string{target}, detail
}

// healMembership is HealAll's step for membership: the initial membership
// restored when the cluster changes membership at all, recorded whether or
// not anything had to change.
func healMembership(c cluster.Cluster) (*reconfigInjection, bool) {
	if (Spec{Kind: fault.Reconfig}).available(c) != nil {
		return nil, false
	}
	rc := c.(cluster.Reconfigurer)
	return restoring(rc, rc.Initial(), names(append(c.Nodes(), rc.Spares()...)), ""), true
}
