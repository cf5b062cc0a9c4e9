package nemesis

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// SetDiskFaults makes the fake a cluster.Disker: it remembers the faults.
func (f *fakeCluster) SetDiskFaults(_ context.Context, n cluster.Node, d cluster.DiskFaults) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.disks == nil {
		f.disks = map[string]cluster.DiskFaults{}
	}
	f.disks[n.Name] = d
	return nil
}

func TestDiskKindsAreRowsThatHealAndNeedTheDisk(t *testing.T) {
	for _, k := range []fault.Kind{fault.FsyncDelay, fault.WriteDelay, fault.DiskError, fault.DiskFull} {
		info, ok := fault.Of(k)
		require.True(t, ok, k)
		assert.Equal(t, string(k), info.Action)
		assert.Equal(t, fault.Heal, info.Heal)
		assert.Equal(t, cluster.CapDiskIO, info.Needs)
		assert.Contains(t, info.Params, "target")
		got, ok := fault.ByAction(string(k))
		assert.True(t, ok)
		assert.Equal(t, k, got)
	}
}

func TestDiskFaultParameters(t *testing.T) {
	for _, tc := range []struct {
		spec  Spec
		field string // "" when valid
	}{
		{Spec{Kind: fault.FsyncDelay, Delay: time.Second, Jitter: time.Millisecond}, ""},
		{Spec{Kind: fault.WriteDelay, Target: TargetLeader}, ""},
		{Spec{Kind: fault.WriteDelay, Delay: -time.Second}, "delay"},
		{Spec{Kind: fault.FsyncDelay, Loss: 0.5}, "loss"},
		{Spec{Kind: fault.DiskError, Share: 0.3, Ops: OpsFsyncs}, ""},
		{Spec{Kind: fault.DiskError, Share: 1.5}, "share"},
		{Spec{Kind: fault.DiskError, Share: -0.1}, "share"},
		{Spec{Kind: fault.DiskError, Ops: "reads"}, "ops"},
		{Spec{Kind: fault.DiskError, Delay: time.Second}, "delay"},
		{Spec{Kind: fault.DiskFull, Free: 4096}, ""},
		{Spec{Kind: fault.DiskFull, Free: -1}, "free"},
		{Spec{Kind: fault.DiskFull, Share: 0.5}, "share"},
		{Spec{Kind: fault.Kill, Ops: OpsBoth}, "ops"},
		{Spec{Kind: fault.Link, Free: 1}, "free"},
	} {
		problems := tc.spec.Resolved().Validate()
		if tc.field == "" {
			assert.Empty(t, problems, "%+v", tc.spec)
			continue
		}
		require.NotEmpty(t, problems, "%+v", tc.spec)
		assert.Equal(t, tc.field, problems[0].Field, "%+v: %v", tc.spec, problems)
	}
}

func TestDiskFaultsOfEachKind(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want cluster.DiskFaults
	}{
		{Spec{Kind: fault.FsyncDelay}, cluster.DiskFaults{FsyncDelay: 50 * time.Millisecond}},
		{Spec{Kind: fault.WriteDelay, Delay: time.Second, Jitter: time.Millisecond},
			cluster.DiskFaults{WriteDelay: time.Second, WriteJitter: time.Millisecond}},
		{Spec{Kind: fault.DiskError}, cluster.DiskFaults{WriteErrors: 1, FsyncErrors: 1}},
		{Spec{Kind: fault.DiskError, Share: 0.25, Ops: OpsWrites}, cluster.DiskFaults{WriteErrors: 0.25}},
		{Spec{Kind: fault.DiskError, Share: 0.25, Ops: OpsFsyncs}, cluster.DiskFaults{FsyncErrors: 0.25}},
		{Spec{Kind: fault.DiskFull}, cluster.DiskFaults{Full: true}},
		{Spec{Kind: fault.DiskFull, Free: 10}, cluster.DiskFaults{Full: true, FreeBytes: 10}},
	} {
		assert.Equal(t, tc.want, tc.spec.Resolved().diskFaults(), "%+v", tc.spec)
	}
	assert.Equal(t, "disk-error one fsyncs 0.5", Spec{Kind: fault.DiskError, Share: 0.5, Ops: OpsFsyncs}.Resolved().Label())
	assert.Equal(t, "fsync-delay leader 50ms±0s", Spec{Kind: fault.FsyncDelay, Target: TargetLeader}.Resolved().Label())
	assert.Equal(t, "disk-full one free 0", Spec{Kind: fault.DiskFull}.Resolved().Label())
}

func TestDiskFaultsAreSetOnTheirTargetsAndClearedAtTheHeal(t *testing.T) {
	for _, kind := range []string{"fsync-delay", "write-delay", "disk-error", "disk-full"} {
		c := newFake(3, "n2")
		rec := runSchedule(t, c, []string{kind}, 1)
		ws := fault.Windows(rec.Ops)
		require.NotEmpty(t, ws, kind)
		for _, w := range ws {
			assert.Equal(t, fault.Kind(kind), w.Kind)
			assert.Equal(t, fault.Heal, w.HealF)
			assert.Len(t, w.Targets, 1)
			assert.True(t, w.Healed)
		}
		require.NotEmpty(t, c.disks, kind)
		for n, d := range c.disks {
			assert.Zero(t, d, "%s: %s's disk faults cleared", kind, n)
		}
		assert.Equal(t, cluster.Capabilities{cluster.CapDiskIO: true}, Needs(specs(kind), nil))
	}
}

func TestHealAllClearsEveryDisk(t *testing.T) {
	c := newFake(3, "n1")
	for _, n := range c.Nodes() {
		require.NoError(t, c.SetDiskFaults(context.Background(), n, cluster.DiskFaults{Full: true}))
	}
	require.NoError(t, HealAll(context.Background(), c, &histtest.Memory{}, nil))
	for _, n := range c.Nodes() {
		assert.Zero(t, c.disks[n.Name], n.Name)
	}
}

// TestFsyncDelayStepSlowsItsNodesUntilAHeal holds the script's slow disk:
// the step sets an fsync delay on the nodes it names, needs the disk-I/O
// means, and a heal step clears it; by is its own and required.
func TestFsyncDelayStepSlowsItsNodesUntilAHeal(t *testing.T) {
	steps := []ScriptStep{
		{Bind: "C", Role: RoleFollower},
		{FsyncDelay: Nodes{"C"}, By: 30 * time.Millisecond},
		{Heal: true},
	}
	require.Empty(t, ValidateScript(steps))
	assert.Equal(t, "fsync-delay C by 30ms", steps[1].Describe())
	assert.Equal(t, cluster.Capabilities{cluster.CapDiskIO: true}, Needs(nil, steps[:2]))

	c := newFake(3, "n1")
	rec := &histtest.Memory{}
	require.NoError(t, Script{Steps: steps[:2], Seed: 1}.Run(context.Background(), c, rec))
	var slowed string
	for n, d := range c.disks {
		if d != (cluster.DiskFaults{}) {
			assert.Equal(t, cluster.DiskFaults{FsyncDelay: 30 * time.Millisecond}, d)
			slowed = n
		}
	}
	assert.NotEmpty(t, slowed, "a follower's fsyncs are slowed")
	assert.NotEqual(t, "n1", slowed, "the leader is not the follower bound")

	p := &linksFake{fakeCluster: newFake(3, "n1")}
	require.NoError(t, Script{Steps: steps, Seed: 1}.Run(context.Background(), p, &histtest.Memory{}))
	assert.True(t, p.healed, "the heal step heals the links")
	require.Len(t, p.disks, 3)
	for n, d := range p.disks {
		assert.Equal(t, cluster.DiskFaults{}, d, "%s: the heal step clears the delay", n)
	}

	var fields []string
	for _, p := range ValidateScript([]ScriptStep{
		{FsyncDelay: Nodes{"n1"}},
		{FsyncDelay: Nodes{"n1"}, By: -time.Millisecond},
		{Kill: Nodes{"n1"}, By: time.Millisecond},
	}) {
		fields = append(fields, p.Field)
		assert.NotEmpty(t, p.Msg)
	}
	assert.Equal(t, []string{"by", "by", "by"}, fields, "by is required, positive, and fsync-delay's alone")
}

// linksFake is the fake with links to heal (a cluster.Partitioner).
type linksFake struct {
	*fakeCluster
	healed bool
}

func (f *linksFake) Partition(context.Context, cluster.Grudge, cluster.LinkMode) error { return nil }
func (f *linksFake) Shape(context.Context, []string, cluster.LinkShape) error          { return nil }
func (f *linksFake) IsolateClients(context.Context, []string) error                    { return nil }
func (f *linksFake) HealLinks(context.Context) error                                   { f.healed = true; return nil }
func (f *linksFake) ClientDialer(cluster.Node) func(string, string, time.Duration) (net.Conn, error) {
	return nil
}
