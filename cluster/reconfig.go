package cluster

import (
	"context"
	"slices"
	"strings"
)

// Membership is an ensemble's dynamic configuration: which servers vote,
// which observe, and the configuration's version.
type Membership struct {
	// Version is the configuration's version as /zookeeper/config's
	// version= line spells it: the zxid, in hex, of the reconfiguration
	// that made it.
	Version string
	// Voters are the names of the participants, sorted.
	Voters []string
	// Observers are the names of the observers, sorted.
	Observers []string
}

// Has reports whether name is a voter or an observer of m.
func (m Membership) Has(name string) bool {
	return slices.Contains(m.Voters, name) || slices.Contains(m.Observers, name)
}

// Same reports whether m and o have the same voters and observers,
// whatever their versions.
func (m Membership) Same(o Membership) bool {
	return slices.Equal(m.Voters, o.Voters) && slices.Equal(m.Observers, o.Observers)
}

// String renders the members, e.g. "voters n1,n2 observers n3".
func (m Membership) String() string {
	s := "voters " + strings.Join(m.Voters, ",")
	if len(m.Observers) > 0 {
		s += " observers " + strings.Join(m.Observers, ",")
	}
	return s
}

// Reconfigurer is a cluster whose membership can change while it runs
// (ZooKeeper's dynamic reconfiguration): voters removed and added back,
// voters turned into observers, spare servers added as voters.
type Reconfigurer interface {
	Cluster
	// Spares lists the servers beyond Nodes that can join the ensemble;
	// they run only while they are members.
	Spares() []Node
	// Initial is the membership the ensemble started with: every node a
	// voter, no spare.
	Initial() Membership
	// Membership reads the current configuration from the ensemble.
	Membership(ctx context.Context) (Membership, error)
	// SetMembership changes the configuration to want's voters and
	// observers (its Version is ignored) in one reconfiguration, starting
	// the spares that join first and stopping those that left after, and
	// returns the configuration that is in force afterwards, also when
	// the reconfiguration failed (when it can be read).
	SetMembership(ctx context.Context, want Membership) (Membership, error)
}
