package nemesis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
)

func TestValidateScriptNamesEachProblem(t *testing.T) {
	steps := []ScriptStep{
		{Bind: "A", Role: RoleLeader},
		{Kill: Nodes{"A"}, Start: Nodes{"n2"}},
		{Kill: Nodes{"B"}},
		{Bind: "C"},
		{Bind: "D", From: 9},
		{Kill: Nodes{"A"}, Window: "x"},
		{Start: Nodes{"A"}, When: &Trigger{Node: "A", Log: []string{"("}}},
		{Sleep: time.Second, Delay: time.Millisecond},
		{When: &Trigger{Node: "A", Mntr: "zk_peer_state"}},
		{When: &Trigger{Node: "A", Role: "observer", Since: SinceNow}},
		{},
		{Bind: "leader", Role: RoleAny},
		{Kill: Nodes{"A"}, When: &Trigger{Node: "A", Log: []string{"a"}}, Delay: 50 * time.Millisecond, MaxDelay: time.Millisecond},
	}
	var got []string
	for _, p := range ValidateScript(steps) {
		got = append(got, p.Field)
		assert.NotEmpty(t, p.Msg)
		t.Logf("step %d: %s: %s", p.Step+1, p.Field, p.Msg)
	}
	assert.Equal(t, []string{
		"start",       // two actions in one step
		"kill",        // B is bound nowhere
		"bind",        // neither role nor from
		"from",        // a later step
		"window",      // no log trigger
		"when.log[0]", // bad regular expression
		"delay",       // delay without a trigger
		"when.match",  // mntr without match
		"when.since",  // since without a log trigger
		"when.role",   // unknown role
		"",            // does nothing
		"bind",        // a role word
		"max-delay",   // below delay
	}, got)
	assert.Empty(t, ValidateScript(steps[:1]))
}

func TestNodesAcceptsOneOrAList(t *testing.T) {
	var st ScriptStep
	require.NoError(t, yaml.Unmarshal([]byte("kill: C\nstart: [A, B]\n"), &st))
	assert.Equal(t, Nodes{"C"}, st.Kill)
	assert.Equal(t, Nodes{"A", "B"}, st.Start)
}

// followingFake is the fake cluster with logs the test writes.
type followingFake struct {
	*fakeCluster
	logs map[string]chan cluster.LogLine
}

func (f *followingFake) FollowLog(_ context.Context, n cluster.Node, _ bool) (<-chan cluster.LogLine, error) {
	return f.logs[n.Name], nil
}

func newFollowingFake() *followingFake {
	f := &followingFake{fakeCluster: newFake(3, "n1"), logs: map[string]chan cluster.LogLine{}}
	for _, n := range f.nodes {
		f.logs[n.Name] = make(chan cluster.LogLine, 16)
	}
	return f
}

// script4785 binds the leader and a follower, kills the follower when it
// logs a diff then NEWLEADER, and says whether the kill landed before the
// node logged "UPTODATE".
var script4785 = []ScriptStep{
	{Bind: "A", Role: RoleLeader},
	{Bind: "C", Role: RoleFollower},
	{Kill: Nodes{"C"}, When: &Trigger{Node: "C", Log: []string{"Getting a diff", "NEWLEADER"}},
		Delay: time.Millisecond, MaxDelay: 3 * time.Millisecond, Window: "UPTODATE"},
	{Bind: "K", From: 3},
	{WaitLeader: time.Second},
	{WaitHealthy: time.Second},
}

func TestScriptFiresOnLogSequenceAndMeasuresTheWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lines  []string
		saw    string
		window string
		closed string
	}{
		{"landed", []string{"NEWLEADER too early", "Getting a diff", "noise", "Learner received NEWLEADER"},
			"Learner received NEWLEADER", history.WindowLanded, ""},
		{"missed", []string{"Getting a diff", "NEWLEADER", "Learner received UPTODATE"},
			"NEWLEADER", history.WindowMissed, "Learner received UPTODATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFollowingFake()
			s := Script{Steps: script4785, Seed: 7}
			require.NoError(t, s.Available(c))
			rec := &histtest.Memory{}
			done := make(chan error, 1)
			go func() { done <- s.Run(context.Background(), c, rec) }()
			// Which follower C is depends on the seed: feed both.
			for _, n := range []string{"n2", "n3"} {
				for _, l := range tc.lines {
					c.logs[n] <- cluster.LogLine{Text: l, At: time.Now()}
				}
			}
			require.NoError(t, <-done)

			var trig, kill *history.Op
			var bound []string
			for i, op := range rec.Ops {
				switch {
				case op.F == history.FTrigger:
					trig = &rec.Ops[i]
				case op.F == "kill" && op.Type == history.Info:
					kill = &rec.Ops[i]
				case op.F == history.FStep && op.Fault.Step == 4:
					bound = op.Fault.Targets
				}
			}
			require.NotNil(t, trig)
			require.NotNil(t, kill)
			assert.Equal(t, tc.saw, trig.Fault.Trigger.Saw)
			assert.Equal(t, 3, kill.Fault.Step)
			assert.Equal(t, []string{trig.Fault.Trigger.Node}, kill.Fault.Targets)
			assert.Equal(t, kill.Fault.Targets, bound, "from: 3 binds the node step 3 killed")
			assert.Equal(t, tc.window, kill.Fault.Trigger.Window)
			assert.Equal(t, tc.closed, kill.Fault.Trigger.Closed)
			assert.GreaterOrEqual(t, kill.Fault.Trigger.DelayNS, int64(time.Millisecond))
			assert.LessOrEqual(t, kill.Fault.Trigger.DelayNS, int64(3*time.Millisecond))
			assert.True(t, c.down[kill.Fault.Targets[0]])
			last := rec.Ops[len(rec.Ops)-1]
			assert.Equal(t, history.FStep, last.F)
			assert.Equal(t, "step 6: wait until healthy", last.Fault.Name)
			assert.Equal(t, "healthy after 0s", last.Fault.Detail)
		})
	}
}

func TestScriptStopsWhenATriggerNeverFires(t *testing.T) {
	c := newFollowingFake()
	steps := []ScriptStep{
		{Kill: Nodes{"n2"}, When: &Trigger{Node: "n2", Role: RoleLeader, Timeout: 50 * time.Millisecond}},
		{Kill: Nodes{"n3"}},
	}
	rec := &histtest.Memory{}
	err := Script{Steps: steps}.Run(context.Background(), c, rec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "step 1")
	require.Len(t, rec.Ops, 1, "the trigger's failure is recorded and nothing after it runs")
	assert.Equal(t, history.FTrigger, rec.Ops[0].F)
	assert.Contains(t, rec.Ops[0].Error, "never leader")
	assert.Equal(t, "role=follower", rec.Ops[0].Fault.Trigger.Saw, "the last state seen")
	assert.False(t, c.down["n3"])
}

func TestScriptSeedFixesItsChoices(t *testing.T) {
	steps := []ScriptStep{{Bind: "X", Role: RoleAny}, {Bind: "Y", Role: RoleAny}, {Kill: Nodes{"follower"}}}
	run := func(seed int64) []string {
		rec := &histtest.Memory{}
		require.NoError(t, Script{Steps: steps, Seed: seed}.Run(context.Background(), newFake(5, "n1"), rec))
		return actions(rec)
	}
	assert.Equal(t, run(1), run(1))
	differs := false
	for seed := int64(2); seed < 10 && !differs; seed++ {
		differs = !assert.ObjectsAreEqual(run(1), run(seed))
	}
	assert.True(t, differs, "another seed draws other nodes")
}
