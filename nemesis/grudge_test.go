package nemesis

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// hears reports whether a hears b under g.
func hears(g cluster.Grudge, a, b string) bool {
	for _, x := range g[a] {
		if x == b {
			return false
		}
	}
	return true
}

var five = []string{"n4", "n2", "n5", "n1", "n3"}

func TestIsolateCutsTheTargetFromEveryoneBothWays(t *testing.T) {
	g, err := buildGrudge(GrudgeIsolate, five, []string{"n2"})
	require.NoError(t, err)
	for _, other := range []string{"n1", "n3", "n4", "n5"} {
		assert.False(t, hears(g, "n2", other))
		assert.False(t, hears(g, other, "n2"))
		for _, third := range []string{"n1", "n3", "n4", "n5"} {
			assert.True(t, hears(g, other, third), "%s-%s stay connected", other, third)
		}
	}
}

func TestHalvesSplitIntoAMinorityAndAMajority(t *testing.T) {
	g, err := buildGrudge(GrudgeHalves, five, nil)
	require.NoError(t, err)
	minority, majority := five[:2], five[2:]
	for _, a := range minority {
		for _, b := range majority {
			assert.False(t, hears(g, a, b))
			assert.False(t, hears(g, b, a))
		}
	}
	assert.True(t, hears(g, "n4", "n2"))
	assert.True(t, hears(g, "n5", "n3"))
}

func TestMajoritiesRingGivesEveryNodeADifferentMajority(t *testing.T) {
	g, err := buildGrudge(GrudgeMajoritiesRing, five, nil)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, a := range five {
		var view []string
		for _, b := range five {
			if hears(g, a, b) {
				view = append(view, b)
			}
		}
		assert.Len(t, view, 3, "%s sees a majority of 5", a)
		key := ""
		for _, b := range five {
			if hears(g, a, b) {
				key += b
			}
		}
		assert.False(t, seen[key], "no two nodes see the same majority")
		seen[key] = true
		for _, b := range five {
			assert.Equal(t, hears(g, a, b), hears(g, b, a), "the ring is symmetric")
		}
	}
	_, err = buildGrudge(GrudgeMajoritiesRing, five[:3], nil)
	assert.ErrorContains(t, err, "at least 5 nodes")
}

func TestBridgeHearsBothSidesThatCannotHearEachOther(t *testing.T) {
	g, err := buildGrudge(GrudgeBridge, five, nil)
	require.NoError(t, err)
	bridge := five[0]
	for _, x := range five[1:] {
		assert.True(t, hears(g, bridge, x))
		assert.True(t, hears(g, x, bridge))
	}
	assert.False(t, hears(g, five[1], five[3]))
	assert.False(t, hears(g, five[4], five[2]))
	assert.True(t, hears(g, five[1], five[2]))
}

func TestOneWayOnlyCutsTrafficFromTheTarget(t *testing.T) {
	g, err := buildGrudge(GrudgeOneWay, five, []string{"n1"})
	require.NoError(t, err)
	for _, other := range []string{"n2", "n3", "n4", "n5"} {
		assert.False(t, hears(g, other, "n1"), "nobody hears n1")
		assert.True(t, hears(g, "n1", other), "n1 hears everyone")
	}
}

func TestTargetsResolveByRole(t *testing.T) {
	c := newFake(5, "n3")
	ch := draw(rand.New(rand.NewPCG(1, 2)), 5)
	ctx := context.Background()
	leader, _ := resolveTarget(ctx, c, TargetLeader, ch)
	assert.Equal(t, []string{"n3"}, names(leader))
	followers, _ := resolveTarget(ctx, c, TargetFollowers, ch)
	assert.Equal(t, []string{"n1", "n2", "n4", "n5"}, names(followers))
	minority, _ := resolveTarget(ctx, c, TargetMinority, ch)
	assert.Len(t, minority, 2)
	majority, _ := resolveTarget(ctx, c, TargetMajority, ch)
	assert.Len(t, majority, 3)
	all, _ := resolveTarget(ctx, c, TargetAll, ch)
	assert.Len(t, all, 5)
	one, _ := resolveTarget(ctx, c, TargetOne, ch)
	assert.Len(t, one, 1)
	for seed := range uint64(20) {
		ch := draw(rand.New(rand.NewPCG(seed, 2)), 5)
		follower, _ := resolveTarget(ctx, c, TargetFollower, ch)
		require.Len(t, follower, 1)
		assert.NotEqual(t, "n3", follower[0].Name, "a follower, never the leader")
		again, _ := resolveTarget(ctx, c, TargetFollower, ch)
		assert.Equal(t, follower, again, "the seed decides which")
	}
}

func TestSpecsResolveAndValidate(t *testing.T) {
	assert.Equal(t, Spec{Kind: fault.Kill, Target: TargetLeader}, Spec{Kind: "kill-leader"}.Resolved())
	assert.Equal(t, Spec{Kind: fault.Partition, Grudge: GrudgeHalves, Mode: "reset"}, Spec{Kind: "partition"}.Resolved())
	assert.Equal(t, Spec{Kind: fault.Partition, Grudge: GrudgeIsolate, Target: TargetLeader, Mode: "hang"},
		Spec{Kind: "isolate-leader", Mode: "hang"}.Resolved())
	assert.Empty(t, Spec{Kind: "clock", Clock: ClockStrobe}.Resolved().Validate())

	problems := Spec{Kind: fault.Kill, Target: "everyone", Delay: time.Second}.Resolved().Validate()
	require.Len(t, problems, 2)
	assert.Equal(t, "delay", problems[0].Field)
	assert.Contains(t, problems[0].Msg, "does not apply to kill faults")
	assert.Equal(t, "target", problems[1].Field)

	problems = Spec{Kind: fault.Partition, Grudge: GrudgeHalves, Target: TargetLeader}.Resolved().Validate()
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0].Msg, "only to the isolate and one-way")
	assert.NotEmpty(t, Spec{Kind: fault.Link, Loss: 1.5}.Resolved().Validate())
	assert.NotEmpty(t, Spec{Kind: "flood"}.Validate())
}

func TestPlanIsTheSameForTheSameSeed(t *testing.T) {
	s := Schedule{Faults: make([]Fault, 3), MinQuiet: time.Second, MaxQuiet: 9 * time.Second,
		MinDuration: time.Second, MaxDuration: 5 * time.Second, Warmup: 2 * time.Second, Seed: 11}
	a, b := s.Plan(20, 5), s.Plan(20, 5)
	assert.Equal(t, a, b)
	assert.Equal(t, 2*time.Second, a[0].Quiet, "the warm-up comes first")
	for _, st := range a[1:] {
		assert.GreaterOrEqual(t, st.Quiet, time.Second)
		assert.LessOrEqual(t, st.Quiet, 9*time.Second)
		assert.GreaterOrEqual(t, st.Duration, time.Second)
		assert.LessOrEqual(t, st.Duration, 5*time.Second)
	}
	s.Seed = 12
	assert.NotEqual(t, a, s.Plan(20, 5))
}

func TestLabelsTellFaultsApart(t *testing.T) {
	assert.Equal(t, "kill leader", Spec{Kind: "kill-leader"}.Resolved().Label())
	assert.Equal(t, "partition isolate leader (hang)", Spec{Kind: "isolate-leader", Mode: "hang"}.Resolved().Label())
	assert.Equal(t, "clock bump +30s one", Spec{Kind: "clock", Delta: 30 * time.Second}.Resolved().Label())
	assert.Equal(t, "clock bump -30s leader", Spec{Kind: "clock", Delta: -30 * time.Second, Target: "leader"}.Resolved().Label())
	assert.Equal(t, "clock rate x2 one", Spec{Kind: "clock", Clock: ClockRate}.Resolved().Label())
	assert.Equal(t, "link all delay 100ms±50ms", Spec{Kind: "link", Delay: 100 * time.Millisecond, Jitter: 50 * time.Millisecond}.Resolved().Label())
	assert.Equal(t, "link one loss 0.01", Spec{Kind: "link", Target: "one", Loss: 0.01}.Resolved().Label())
}
