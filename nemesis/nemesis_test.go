package nemesis

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// fakeCluster is an in-memory Killer for testing schedule logic only; the
// real-process behaviour is tested in cluster/local and harness.
type fakeCluster struct {
	mu      sync.Mutex
	nodes   []cluster.Node
	leader  string
	down    map[string]bool
	failing bool
	disks   map[string]cluster.DiskFaults // the disk faults set, by node
}

func newFake(n int, leader string) *fakeCluster {
	f := &fakeCluster{leader: leader, down: map[string]bool{}}
	for i := 1; i <= n; i++ {
		f.nodes = append(f.nodes, cluster.Node{ID: i, Name: "n" + string(rune('0'+i))})
	}
	return f
}

func (f *fakeCluster) Nodes() []cluster.Node { return f.nodes }
func (f *fakeCluster) Roles(context.Context) map[string]cluster.Role {
	f.mu.Lock()
	defer f.mu.Unlock()
	roles := map[string]cluster.Role{}
	for _, n := range f.nodes {
		switch {
		case f.down[n.Name]:
			roles[n.Name] = cluster.Down
		case n.Name == f.leader:
			roles[n.Name] = cluster.Leader
		default:
			roles[n.Name] = cluster.Follower
		}
	}
	return roles
}
func (f *fakeCluster) WaitHealthy(context.Context, time.Duration) (time.Duration, error) {
	return 0, nil
}
func (f *fakeCluster) Close(context.Context) error  { return nil }
func (f *fakeCluster) Can(cluster.Capability) error { return nil }
func (f *fakeCluster) Kill(_ context.Context, n cluster.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return errors.New("kill refused")
	}
	f.down[n.Name] = true
	return nil
}
func (f *fakeCluster) Start(_ context.Context, n cluster.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.down, n.Name)
	return nil
}
func (f *fakeCluster) Running(n cluster.Node) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down[n.Name]
}

// actions returns "f:targets" of the completed nemesis actions rec holds.
func actions(rec *histtest.Memory) []string {
	var out []string
	for _, op := range rec.Ops {
		if op.Type == history.Info {
			out = append(out, op.F+":"+op.Fault.Name+":"+joinTargets(op.Fault.Targets))
		}
	}
	return out
}

func joinTargets(ts []string) string {
	s := ""
	for _, t := range ts {
		s += t
	}
	return s
}

// specs are the specs of the named faults, resolved as a scenario's loading
// resolves them.
func specs(names ...string) []Spec {
	var out []Spec
	for _, n := range names {
		out = append(out, Spec{Kind: fault.Kind(n)}.Resolved())
	}
	return out
}

func runSchedule(t *testing.T, c *fakeCluster, faults []string, seed int64) *histtest.Memory {
	t.Helper()
	fs, err := FromSpecs(specs(faults...), c)
	require.NoError(t, err)
	rec := &histtest.Memory{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s := Schedule{Faults: fs, MinQuiet: 5 * time.Millisecond, MaxQuiet: 5 * time.Millisecond,
		MinDuration: 3 * time.Millisecond, MaxDuration: 3 * time.Millisecond, Seed: seed}
	require.NoError(t, s.Run(ctx, c, rec))
	return rec
}

func TestSameSeedSameSchedule(t *testing.T) {
	a := actions(runSchedule(t, newFake(5, "n3"), []string{"kill-random", "kill-leader"}, 42))
	b := actions(runSchedule(t, newFake(5, "n3"), []string{"kill-random", "kill-leader"}, 42))
	c := actions(runSchedule(t, newFake(5, "n3"), []string{"kill-random", "kill-leader"}, 43))
	require.GreaterOrEqual(t, len(a), 6)
	n := min(len(a), len(b), len(c)) // wall-clock decides how many steps fit
	assert.Equal(t, a[:n], b[:n])
	assert.NotEqual(t, a[:n], c[:n])
}

func TestKillLeaderKillsTheLeaderAndEveryKillIsHealed(t *testing.T) {
	c := newFake(3, "n2")
	rec := runSchedule(t, c, []string{"kill-leader"}, 1)
	acts := actions(rec)
	require.NotEmpty(t, acts)
	for i, a := range acts {
		if i%2 == 0 {
			assert.Equal(t, "kill:kill leader:n2", a)
		} else {
			assert.Equal(t, "start:kill leader:n2", a)
		}
	}
	assert.Equal(t, 0, len(acts)%2, "the schedule ends with the fault healed")
	for _, n := range c.Nodes() {
		assert.True(t, c.Running(n), n.Name)
	}
}

func TestKillLeaderWithoutLeaderSaysSo(t *testing.T) {
	c := newFake(3, "")
	rec := runSchedule(t, c, []string{"kill-leader"}, 1)
	require.NotEmpty(t, rec.Ops)
	assert.Contains(t, rec.Ops[1].Fault.Detail, "no single leader")
}

func TestFailedInjectIsRecordedHealedAndScheduleGoesOn(t *testing.T) {
	c := newFake(3, "n1")
	c.failing = true
	rec := runSchedule(t, c, []string{"kill-random"}, 1)
	var errs, heals int
	for _, op := range rec.Ops {
		if op.Type != history.Info {
			continue
		}
		switch {
		case op.F == "kill" && op.Error != "":
			errs++
		case op.F == "start":
			heals++
		}
	}
	assert.GreaterOrEqual(t, errs, 2, "every failed injection is recorded with its error")
	// A fault may be partly applied when it fails (one of several nodes
	// killed), so it is healed like any other.
	assert.Equal(t, errs, heals)
}

func TestHealAllStartsEveryStoppedNode(t *testing.T) {
	c := newFake(3, "n1")
	c.down["n1"], c.down["n3"] = true, true
	rec := &histtest.Memory{}
	require.NoError(t, HealAll(context.Background(), c, rec, nil))
	for _, n := range c.Nodes() {
		assert.True(t, c.Running(n))
	}
	assert.Equal(t, []string{"heal:heal-all:n1", "start:heal-all:n1", "heal:heal-all:n2",
		"heal:heal-all:n3", "start:heal-all:n3"}, actions(rec), "every disk's faults cleared, the stopped nodes started")
}

func TestUnknownFaultIsAnError(t *testing.T) {
	_, err := FromSpecs(specs("kill-leader", "flood"), newFake(3, "n1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown fault "flood"`)
	assert.Contains(t, err.Error(), "kill-random")
}

func TestFaultNeedingAnAbsentCapabilityIsAnError(t *testing.T) {
	_, err := FromSpecs(specs("kill-random"), observeOnly{newFake(3, "n1")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot kill nodes")
	_, err = FromSpecs(specs("partition"), newFake(3, "n1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot partition")
}

// observeOnly hides the Killer methods of a cluster.
type observeOnly struct{ c *fakeCluster }

func (o observeOnly) Nodes() []cluster.Node                             { return o.c.Nodes() }
func (o observeOnly) Roles(ctx context.Context) map[string]cluster.Role { return o.c.Roles(ctx) }
func (o observeOnly) WaitHealthy(ctx context.Context, d time.Duration) (time.Duration, error) {
	return o.c.WaitHealthy(ctx, d)
}
func (o observeOnly) Close(ctx context.Context) error   { return o.c.Close(ctx) }
func (o observeOnly) Can(need cluster.Capability) error { return o.c.Can(need) }

func TestEveryKindInTheTableIsAFault(t *testing.T) {
	for _, info := range fault.Table {
		s := Spec{Kind: info.Kind}
		if info.Kind == fault.Upgrade || info.Kind == fault.Rollback {
			s.To = "debian"
		}
		f, err := New(s.Resolved())
		require.NoError(t, err, info.Kind)
		assert.Equal(t, info.Kind, f.Kind())
		assert.True(t, strings.HasPrefix(f.Label(), string(info.Kind)+" "), "the label %q starts with its kind", f.Label())
		assert.Equal(t, info.Kind, fault.OfLabel(f.Label()))
	}
	for name, sh := range shorthands {
		_, ok := fault.Of(sh.Kind)
		assert.True(t, ok, "the shorthand %s stands for a kind of the table", name)
	}
}

func TestRecordsCarryTheTablesActionsAndPairBackIntoWindows(t *testing.T) {
	rec := runSchedule(t, newFake(3, "n2"), []string{"kill-leader"}, 1)
	kill, _ := fault.Of(fault.Kill)
	ws := fault.Windows(rec.Ops)
	require.NotEmpty(t, ws)
	for _, w := range ws {
		assert.Equal(t, fault.Kill, w.Kind)
		assert.Equal(t, kill.Action, w.F)
		assert.Equal(t, kill.Heal, w.HealF)
		assert.Equal(t, "kill leader", w.Label)
		assert.True(t, w.Healed)
	}
}

// TestNeedsUnitesFaultsAndScript: what a run asks of the ensemble comes
// from its faults and its script steps alike, typed.
func TestNeedsUnitesFaultsAndScript(t *testing.T) {
	assert.Empty(t, Needs(nil, nil))
	kills := Needs([]Spec{{Kind: fault.Kill}}, nil)
	assert.Equal(t, cluster.Capabilities{cluster.CapKill: true}, kills)
	assert.False(t, kills.Links())
	assert.False(t, kills.Clocks())

	caps := Needs([]Spec{{Kind: fault.Clock}}, []ScriptStep{{Isolate: Nodes{"leader"}}, {Sleep: time.Second}})
	assert.True(t, caps.Links(), "a script that isolates a node needs links it can cut")
	assert.True(t, caps.Clocks(), "a clock fault needs clocks it can move")
	assert.False(t, caps[cluster.CapPause])
}
