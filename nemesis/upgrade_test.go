package nemesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// fakeUpgrader is a fakeCluster whose nodes run named distributions. A
// restarted leader hands leadership to the first node restarted before it,
// as an election among the upgraded followers would.
type fakeUpgrader struct {
	*fakeCluster
	versions map[string]string
	// restarted lists the nodes in restart order, with the leader at the
	// time marked by a trailing "*".
	restarted []string
	// failOn makes Restart of that node fail, leaving it down.
	failOn string
}

func newFakeUpgrader(n int, leader, dist string) *fakeUpgrader {
	u := &fakeUpgrader{fakeCluster: newFake(n, leader), versions: map[string]string{}}
	for _, node := range u.nodes {
		u.versions[node.Name] = "label of " + dist
	}
	return u
}

func (u *fakeUpgrader) Describe(_ context.Context, dist string) (string, error) {
	if dist == "debian=0-missing" {
		return "", errors.New("apt knows no version 0-missing")
	}
	return "label of " + dist, nil
}

func (u *fakeUpgrader) Restart(_ context.Context, n cluster.Node, dist string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	mark := ""
	if n.Name == u.leader {
		mark = "*"
		if len(u.restarted) > 0 {
			u.leader = u.restarted[0]
		}
	}
	u.restarted = append(u.restarted, n.Name+mark)
	u.versions[n.Name] = "label of " + dist
	if n.Name == u.failOn {
		u.down[n.Name] = true
		return errors.New("did not sync before the deadline")
	}
	return nil
}

func (u *fakeUpgrader) Version(n cluster.Node) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.versions[n.Name]
}

// upgradeFault builds the fault of a spec through FromSpecs, as a scenario
// does.
func upgradeFault(t *testing.T, c cluster.Cluster, s Spec) Fault {
	t.Helper()
	faults, err := FromSpecs([]Spec{s}, c)
	require.NoError(t, err)
	return faults[0]
}

func TestRollingUpgradeGoesFollowersFirstLeaderLastAndRecordsEachNode(t *testing.T) {
	c := newFakeUpgrader(3, "n2", "debian=1-a")
	f := upgradeFault(t, c, Spec{Kind: fault.Upgrade, To: "debian=2-b"})
	rec := &histtest.Memory{}
	inj := Schedule{}.inject(context.Background(), f, c, rand.New(rand.NewPCG(1, 2)), rec)
	require.NotNil(t, inj)

	require.Len(t, c.restarted, 3)
	assert.Equal(t, "n2*", c.restarted[2], "the leader goes last")
	assert.ElementsMatch(t, []string{"n1", "n3"}, c.restarted[:2])
	require.Len(t, rec.Ops, 6, "an invoke and a completion per node, nothing else")
	for i, op := range rec.Ops {
		node := c.restarted[i/2][:2]
		want := history.Invoke
		if i%2 == 1 {
			want = history.OK
		}
		assert.Equal(t, want, op.Type, "record %d", i)
		assert.Equal(t, "upgrade", op.F)
		assert.Equal(t, history.NemesisProcess, op.Process)
		assert.Equal(t, "upgrade to debian=2-b", op.Fault.Name)
		assert.Equal(t, []string{node}, op.Fault.Targets)
		assert.Equal(t, "label of debian=1-a -> label of debian=2-b", op.Fault.Detail)
		assert.Empty(t, op.Error)
	}
	for _, n := range c.Nodes() {
		assert.Equal(t, "label of debian=2-b", c.Version(n))
	}
	assert.ElementsMatch(t, []string{"n1", "n2", "n3"}, inj.Targets())

	// Healing does not go back; it only starts nodes left down (none).
	require.NoError(t, heal(context.Background(), f.Label(), info(f).Heal, inj, rec, nil))
	assert.Equal(t, "start", rec.Ops[6].F)
	assert.Equal(t, "label of debian=2-b", c.Version(c.Nodes()[0]))
}

func TestRollbackIsTheSameSequenceUnderItsOwnName(t *testing.T) {
	c := newFakeUpgrader(3, "n1", "debian=2-b")
	f := upgradeFault(t, c, Spec{Kind: fault.Rollback, To: "debian=1-a"})
	assert.Equal(t, "rollback", info(f).Action)
	assert.Equal(t, "rollback to debian=1-a", f.Label())
	rec := &histtest.Memory{}
	Schedule{}.inject(context.Background(), f, c, rand.New(rand.NewPCG(1, 2)), rec)
	assert.Equal(t, "n1*", c.restarted[2])
	require.Len(t, rec.Ops, 6)
	assert.Equal(t, "rollback", rec.Ops[5].F)
	assert.Equal(t, "label of debian=2-b -> label of debian=1-a", rec.Ops[5].Fault.Detail)
}

func TestFailedStepStopsTheSequenceAndHealingStartsTheNode(t *testing.T) {
	c := newFakeUpgrader(3, "n2", "debian=1-a")
	rng := rand.New(rand.NewPCG(1, 2))
	first := newFakeUpgrader(3, "n2", "debian=1-a")
	Schedule{}.inject(context.Background(), upgradeFault(t, first, Spec{Kind: fault.Upgrade, To: "debian=2-b"}),
		first, rand.New(rand.NewPCG(1, 2)), &histtest.Memory{})
	c.failOn = first.restarted[1] // the second node of this seed's order

	f := upgradeFault(t, c, Spec{Kind: fault.Upgrade, To: "debian=2-b"})
	rec := &histtest.Memory{}
	inj := Schedule{}.inject(context.Background(), f, c, rng, rec)
	require.Len(t, c.restarted, 2, "no node after the failed one is touched")
	require.Len(t, rec.Ops, 4)
	assert.Equal(t, history.OK, rec.Ops[1].Type)
	assert.Equal(t, history.Info, rec.Ops[3].Type, "a step that did not sync is indeterminate")
	assert.Equal(t, "did not sync before the deadline", rec.Ops[3].Error)
	assert.Equal(t, []string{c.failOn}, rec.Ops[3].Fault.Targets)
	assert.False(t, c.Running(cluster.Node{Name: c.failOn}))

	require.NoError(t, heal(context.Background(), f.Label(), info(f).Heal, inj, rec, nil))
	for _, n := range c.Nodes() {
		assert.True(t, c.Running(n), "%s runs after the heal", n.Name)
	}
	assert.Equal(t, "label of debian=2-b", c.Version(cluster.Node{Name: c.failOn}), "healing does not roll back")
	assert.Equal(t, "label of debian=1-a", c.Version(cluster.Node{Name: "n2"}), "the leader was never reached")
}

func TestUnresolvableDistributionIsRecordedWithoutTargets(t *testing.T) {
	c := newFakeUpgrader(3, "n1", "debian=1-a")
	rec := &histtest.Memory{}
	inj := Schedule{}.inject(context.Background(), upgradeFault(t, c, Spec{Kind: fault.Upgrade, To: "debian=0-missing"}),
		c, rand.New(rand.NewPCG(1, 2)), rec)
	assert.Empty(t, c.restarted)
	assert.Empty(t, inj.Targets())
	require.Len(t, rec.Ops, 2)
	assert.Equal(t, history.Info, rec.Ops[1].Type)
	assert.Contains(t, rec.Ops[1].Error, "debian=0-missing: apt knows no version")
	assert.Empty(t, rec.Ops[1].Fault.Targets)
}

func TestUpgradeNeedsAnUpgrader(t *testing.T) {
	_, err := FromSpecs([]Spec{{Kind: fault.Upgrade, To: "debian"}}, newFake(3, "n1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot restart nodes on another distribution")
}

func TestUpgradeSpecValidation(t *testing.T) {
	problems := func(s Spec) []FieldProblem { return s.Resolved().Validate() }
	assert.Empty(t, problems(Spec{Kind: fault.Upgrade, To: "debian=3.8.0-11+deb12u2"}))
	assert.Empty(t, problems(Spec{Kind: fault.Rollback, To: "/opt/apache-zookeeper-3.8.4-bin"}))

	p := problems(Spec{Kind: fault.Upgrade})
	require.Len(t, p, 1)
	assert.Equal(t, "to", p[0].Field)
	assert.Contains(t, p[0].Msg, "is required")

	p = problems(Spec{Kind: fault.Upgrade, To: "debian=3.8/../../x"})
	require.Len(t, p, 1)
	assert.Equal(t, "to", p[0].Field)
	assert.Contains(t, p[0].Msg, "Debian package version")

	p = problems(Spec{Kind: fault.Upgrade, To: "debian", Target: TargetLeader})
	require.Len(t, p, 1)
	assert.Equal(t, "target", p[0].Field)
	assert.Contains(t, p[0].Msg, "does not apply to upgrade faults (it takes: to)")

	p = problems(Spec{Kind: fault.Kill, To: "debian"})
	require.Len(t, p, 1)
	assert.Equal(t, "to", p[0].Field)
}

func TestDistributionsListsWhatFaultsRestartNodesOn(t *testing.T) {
	got := Distributions([]Spec{
		{Kind: "kill-leader"},
		{Kind: fault.Upgrade, To: "debian=3.8.0-11+deb12u2"},
		{Kind: fault.Rollback, To: "debian=3.8.0-11+deb12u1"},
		{Kind: fault.Upgrade, To: "debian=3.8.0-11+deb12u2"},
	})
	assert.Equal(t, []string{"debian=3.8.0-11+deb12u2", "debian=3.8.0-11+deb12u1"}, got)
	assert.Empty(t, Distributions([]Spec{{Kind: "kill-leader"}}))
}

func TestInOrderScheduleTakesFaultsAsListed(t *testing.T) {
	s := Schedule{Faults: make([]Fault, 2), InOrder: true, MinQuiet: time.Second, MaxQuiet: time.Second, Seed: 7}
	var got []int
	for _, st := range s.Plan(5, 3) {
		got = append(got, st.Fault)
	}
	assert.Equal(t, []int{0, 1, 0, 1, 0}, got)

	s.InOrder = false
	random := s.Plan(5, 3)
	s.InOrder = true
	for i, st := range s.Plan(5, 3) {
		assert.Equal(t, random[i].Quiet, st.Quiet, "the order does not change the times drawn")
	}
}

func TestShorthandKeepsParametersSoThatStrayOnesAreRejected(t *testing.T) {
	p := Spec{Kind: "kill-leader", To: "debian"}.Resolved().Validate()
	require.Len(t, p, 1)
	assert.Equal(t, "to", p[0].Field)
	p = Spec{Kind: "isolate-leader", Delay: time.Second}.Resolved().Validate()
	require.Len(t, p, 1)
	assert.Equal(t, "delay", p[0].Field)
	assert.Equal(t, Spec{Kind: fault.Partition, Grudge: GrudgeIsolate, Target: TargetFollowers, Mode: "hang"},
		Spec{Kind: "isolate-leader", Target: TargetFollowers, Mode: "hang"}.Resolved())
}
