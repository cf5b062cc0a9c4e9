package nemesis

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// Wipe makes the fake a cluster.Wiper: a wipe is a kill here.
func (f *fakeCluster) Wipe(ctx context.Context, n cluster.Node) error { return f.Kill(ctx, n) }

// Corrupt is a kill here that says it flipped the region d names.
func (f *fakeCluster) Corrupt(ctx context.Context, n cluster.Node, d cluster.Damage) (string, error) {
	return d.File + ".100000001 bytes 0..15 (" + d.Region + ")", f.Kill(ctx, n)
}

func TestWipeAndCorruptTakeDownTheirTargetsAndStartThemAtTheHeal(t *testing.T) {
	for _, k := range []fault.Kind{fault.Wipe, fault.Corrupt} {
		c := newFake(3, "n2")
		rec := runSchedule(t, c, []string{string(k)}, 1)
		ws := fault.Windows(rec.Ops)
		require.NotEmpty(t, ws, k)
		for _, w := range ws {
			assert.Equal(t, k, w.Kind)
			assert.Equal(t, fault.HealStart, w.HealF)
			assert.Len(t, w.Targets, 1)
			assert.True(t, w.Healed)
			if k == fault.Corrupt {
				assert.Equal(t, "corrupt log tail one", w.Label)
				assert.Contains(t, w.Detail, w.Targets[0]+": log.100000001 bytes 0..15 (tail)", "the detail names the file and bytes")
			}
		}
		for _, n := range c.Nodes() {
			assert.True(t, c.Running(n), "%s started again", n.Name)
		}
		assert.Equal(t, cluster.Capabilities{cluster.CapWipe: true}, Needs([]Spec{{Kind: k}}, nil), "no FUSE needed")
	}
}

func TestCorruptValidatesItsFileAndRegion(t *testing.T) {
	s := Spec{Kind: fault.Corrupt}.Resolved()
	assert.Equal(t, Spec{Kind: fault.Corrupt, Target: TargetOne, File: cluster.DamageLog, Region: cluster.DamageTail}, s)
	assert.Empty(t, s.Validate())
	for _, file := range []string{cluster.DamageLog, cluster.DamageSnapshot} {
		for _, region := range []string{cluster.DamageHeader, cluster.DamageMiddle, cluster.DamageTail} {
			assert.Empty(t, Spec{Kind: fault.Corrupt, File: file, Region: region}.Resolved().Validate())
		}
	}
	fields := func(s Spec) []string {
		var out []string
		for _, p := range s.Resolved().Validate() {
			out = append(out, p.Field)
		}
		return out
	}
	assert.Equal(t, []string{"file"}, fields(Spec{Kind: fault.Corrupt, File: "wal"}))
	assert.Equal(t, []string{"region"}, fields(Spec{Kind: fault.Corrupt, Region: "end"}))
	assert.Equal(t, []string{"file", "region"}, fields(Spec{Kind: fault.Wipe, File: "log", Region: "tail"}),
		"only corrupt takes them")
}

func TestScriptPowerLossAndWipeStepsAreRecordedAndNeedTheirCapabilities(t *testing.T) {
	steps := []ScriptStep{{PowerLoss: Nodes{"n1"}}, {Wipe: Nodes{"n1", "n2"}}, {Start: Nodes{"n1", "n2"}}}
	require.Empty(t, ValidateScript(steps))
	assert.Equal(t, "wipe n1, n2", steps[1].Describe())
	assert.Equal(t, cluster.Capabilities{cluster.CapDisk: true, cluster.CapWipe: true, cluster.CapKill: true}, Needs(nil, steps))
	c := newFake(3, "n3")
	rec := &histtest.Memory{}
	require.NoError(t, Script{Steps: steps}.Run(context.Background(), c, rec))
	assert.Equal(t, []string{"power-loss:step 1: power-loss n1:n1", "wipe:step 2: wipe n1, n2:n1n2",
		"start:step 3: start n1, n2:n1n2"}, actions(rec))
	var invoked []string
	for _, op := range rec.Ops {
		if op.Type == history.Invoke {
			invoked = append(invoked, string(fault.OfAction(op.F)))
		}
	}
	assert.Equal(t, []string{"power-loss", "wipe", "start"}, invoked)
	problems := ValidateScript([]ScriptStep{{Wipe: Nodes{"n1"}, Kill: Nodes{"n2"}}})
	require.Len(t, problems, 1, "one action a step")
}

func TestCorruptStepDamagesWhatItNamesAndRecordsTheBytes(t *testing.T) {
	steps := []ScriptStep{
		{Bind: "C", Role: RoleFollower},
		{Corrupt: Nodes{"C"}, File: cluster.DamageSnapshot},
		{Start: Nodes{"C"}},
	}
	require.Empty(t, ValidateScript(steps))
	assert.Equal(t, "corrupt C (snapshot tail)", steps[1].Describe(), "the region defaults to the tail, as for the fault kind")
	assert.Equal(t, "corrupt C (log tail)", ScriptStep{Corrupt: Nodes{"C"}}.Describe())
	rec := &histtest.Memory{}
	c := newFake(3, "n1")
	require.NoError(t, Script{Steps: steps, Seed: 1}.Run(context.Background(), c, rec))
	var done *history.Op
	for i, op := range rec.Ops {
		if op.F == "corrupt" && op.Type != history.Invoke {
			done = &rec.Ops[i]
		}
	}
	require.NotNil(t, done, "the corrupt step is recorded")
	require.Len(t, done.Fault.Targets, 1)
	assert.Equal(t, done.Fault.Targets[0]+": snapshot.100000001 bytes 0..15 (tail)", done.Fault.Detail)
	assert.Equal(t, cluster.Capabilities{cluster.CapWipe: true}, Needs(nil, steps[:2]))

	var fields []string
	for _, p := range ValidateScript([]ScriptStep{
		{Kill: Nodes{"n1"}, File: cluster.DamageLog},
		{Corrupt: Nodes{"n1"}, Region: "end"},
		{Corrupt: Nodes{"n1"}, File: "wal"},
	}) {
		fields = append(fields, p.Field)
		assert.NotEmpty(t, p.Msg)
	}
	assert.Equal(t, []string{"file", "region", "file"}, fields, "file and region belong to corrupt and take its values")
}
