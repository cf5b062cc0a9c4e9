package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// fakeReconfigurer keeps a membership in memory; with failAfter set, a
// change is applied and then reported as failed, as a connection lost
// after the commit would be.
type fakeReconfigurer struct {
	*fakeCluster
	m         cluster.Membership
	version   int
	failAfter bool
}

func newFakeReconfigurer() *fakeReconfigurer {
	return &fakeReconfigurer{fakeCluster: newFake(3, "n2"),
		m: cluster.Membership{Version: "100000000", Voters: []string{"n1", "n2", "n3"}}}
}

func (f *fakeReconfigurer) Spares() []cluster.Node {
	return []cluster.Node{{ID: 4, Name: "n4"}, {ID: 5, Name: "n5"}}
}
func (f *fakeReconfigurer) Initial() cluster.Membership {
	return cluster.Membership{Voters: []string{"n1", "n2", "n3"}}
}
func (f *fakeReconfigurer) Membership(context.Context) (cluster.Membership, error) { return f.m, nil }
func (f *fakeReconfigurer) SetMembership(_ context.Context, want cluster.Membership) (cluster.Membership, error) {
	f.version++
	f.m = cluster.Membership{Version: fmt.Sprintf("1000000%02x", f.version), Voters: want.Voters, Observers: want.Observers}
	slices.Sort(f.m.Voters)
	if f.failAfter {
		return f.m, errors.New("zk: connection closed")
	}
	return f.m, nil
}

func TestReconfigSpecs(t *testing.T) {
	s := Spec{Kind: fault.Reconfig}.Resolved()
	assert.Equal(t, Spec{Kind: fault.Reconfig, Change: ChangeRemove, Target: TargetOne}, s)
	assert.Equal(t, "reconfig remove one", s.Label())
	assert.Empty(t, s.Validate())
	grow := Spec{Kind: fault.Reconfig, Change: ChangeGrow}.Resolved()
	assert.Equal(t, "reconfig grow", grow.Label())
	assert.Empty(t, grow.Validate())
	for _, bad := range []Spec{
		{Kind: fault.Reconfig, Change: ChangeGrow, Target: TargetLeader},
		{Kind: fault.Reconfig, Change: ChangeRemove, Target: TargetMajority},
		{Kind: fault.Reconfig, Change: "shrink"},
		{Kind: fault.Kill, Change: ChangeRemove, Target: TargetOne},
	} {
		assert.NotEmpty(t, bad.Resolved().Validate(), "%+v", bad)
	}
	assert.True(t, Needs(specs("reconfig"), nil)[cluster.CapReconfig])
}

// TestReconfigRecordsAndRestoresMembership injects every change on a fake
// ensemble and heals it, checking the records' membership and version.
func TestReconfigRecordsAndRestoresMembership(t *testing.T) {
	for _, tc := range []struct {
		spec    Spec
		targets []string
		want    history.Membership
	}{
		{Spec{Kind: fault.Reconfig, Target: TargetLeader}, []string{"n2"},
			history.Membership{Voters: []string{"n1", "n3"}}},
		{Spec{Kind: fault.Reconfig, Change: ChangeObserver, Target: TargetLeader}, []string{"n2"},
			history.Membership{Voters: []string{"n1", "n3"}, Observers: []string{"n2"}}},
		{Spec{Kind: fault.Reconfig, Change: ChangeGrow}, []string{"n4", "n5"},
			history.Membership{Voters: []string{"n1", "n2", "n3", "n4", "n5"}}},
	} {
		t.Run(tc.spec.Resolved().Label(), func(t *testing.T) {
			c := newFakeReconfigurer()
			fs, err := FromSpecs([]Spec{tc.spec.Resolved()}, c)
			require.NoError(t, err)
			rec := &histtest.Memory{}
			inj := Schedule{}.inject(context.Background(), fs[0], c, rand.New(rand.NewPCG(1, 1)), rec)
			require.NotNil(t, inj)
			assert.Equal(t, tc.targets, inj.Targets())
			done := rec.Ops[1]
			assert.Empty(t, done.Error)
			assert.Equal(t, "reconfig", done.F)
			assert.Equal(t, tc.want.Voters, done.Fault.Membership.Voters)
			assert.Equal(t, tc.want.Observers, done.Fault.Membership.Observers)
			assert.NotEmpty(t, done.Fault.Membership.Version)
			assert.Contains(t, done.Fault.Detail, "voters n1,n2,n3 -> ")

			require.NoError(t, heal(context.Background(), fs[0].Label(), fault.Heal, inj, rec, nil))
			healed := rec.Ops[3]
			assert.Equal(t, fault.Heal, healed.F)
			assert.Equal(t, []string{"n1", "n2", "n3"}, healed.Fault.Membership.Voters)
			assert.Empty(t, healed.Fault.Membership.Observers)
			assert.True(t, c.m.Same(c.Initial()))

			ws := fault.Windows(rec.Ops)
			require.Len(t, ws, 1)
			assert.Equal(t, fault.Reconfig, ws[0].Kind)
			assert.True(t, ws[0].Healed)
		})
	}
}

// TestFailedReconfigIsRecordedAndHealAllRestoresMembership: a change that
// applied but reported an error is recorded with its error and the
// membership it left, and HealAll puts the initial membership back.
func TestFailedReconfigIsRecordedAndHealAllRestoresMembership(t *testing.T) {
	c := newFakeReconfigurer()
	c.failAfter = true
	fs, err := FromSpecs(specs("reconfig"), c)
	require.NoError(t, err)
	rec := &histtest.Memory{}
	inj := Schedule{}.inject(context.Background(), fs[0], c, rand.New(rand.NewPCG(1, 1)), rec)
	require.NotNil(t, inj)
	assert.Contains(t, rec.Ops[1].Error, "connection closed")
	assert.Len(t, rec.Ops[1].Fault.Membership.Voters, 2, "the record says what the failed change left")

	c.failAfter = false
	require.NoError(t, HealAll(context.Background(), c, rec, nil))
	assert.True(t, c.m.Same(c.Initial()), "back to %s, got %s", c.Initial(), c.m)
	last := rec.Ops[len(rec.Ops)-1]
	assert.Equal(t, fault.Heal, last.F)
	assert.Equal(t, []string{"n1", "n2", "n3", "n4", "n5"}, last.Fault.Targets)
	assert.Equal(t, []string{"n1", "n2", "n3"}, last.Fault.Membership.Voters)
}
