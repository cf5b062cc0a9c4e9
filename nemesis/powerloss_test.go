package nemesis

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/cluster"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

// PowerLoss makes the fake a cluster.Disker: a power loss is a kill here.
func (f *fakeCluster) PowerLoss(ctx context.Context, n cluster.Node) error { return f.Kill(ctx, n) }

func TestPowerLossTakesDownItsTargetsAndStartsThemAtTheHeal(t *testing.T) {
	c := newFake(3, "n2")
	rec := runSchedule(t, c, []string{"power-loss"}, 1)
	ws := fault.Windows(rec.Ops)
	require.NotEmpty(t, ws)
	for _, w := range ws {
		assert.Equal(t, fault.PowerLoss, w.Kind)
		assert.Equal(t, "power-loss", w.F)
		assert.Equal(t, fault.HealStart, w.HealF)
		assert.Equal(t, "power-loss one", w.Label)
		assert.Len(t, w.Targets, 1)
		assert.True(t, w.Healed)
	}
	for _, n := range c.Nodes() {
		assert.True(t, c.Running(n), "%s started again", n.Name)
	}
	assert.Equal(t, cluster.Capabilities{cluster.CapDisk: true}, Needs([]Spec{{Kind: fault.PowerLoss}}, nil))
}

func TestPowerLossTakesTheTargetsOfAKill(t *testing.T) {
	for _, target := range targets {
		assert.Empty(t, Spec{Kind: fault.PowerLoss, Target: target}.Resolved().Validate(), target)
	}
	problems := Spec{Kind: fault.PowerLoss, Grudge: GrudgeHalves}.Resolved().Validate()
	require.Len(t, problems, 1)
	assert.Equal(t, "grudge", problems[0].Field)
}
