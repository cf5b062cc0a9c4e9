package recovery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

func roles(ms float64, r map[string]string) history.Op {
	return history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: int64(ms * 1e6), Roles: r}
}

func nemesisOp(ms float64, f, name string, targets ...string) history.Op {
	return history.Op{Type: history.Info, F: f, Process: history.NemesisProcess, Time: int64(ms * 1e6),
		Fault: &history.Fault{Name: name, Targets: targets}}
}

func healthyAfter(ms float64, detail, errText string) history.Op {
	return history.Op{Type: history.Info, F: history.FHealthy, Process: history.NemesisProcess, Time: int64(ms * 1e6),
		Fault: &history.Fault{Name: "final heal", Detail: detail}, Error: errText}
}

var (
	n1Leads = map[string]string{"n1": "leader", "n2": "follower", "n3": "follower"}
	n1Down  = map[string]string{"n1": "down", "n2": "follower", "n3": "follower"}
	n2Leads = map[string]string{"n1": "down", "n2": "leader", "n3": "follower"}
	n2All   = map[string]string{"n1": "follower", "n2": "leader", "n3": "follower"}
)

func TestRecoveryMeasuresElectionAndRecovery(t *testing.T) {
	ops := []history.Op{
		roles(0, n1Leads),
		nemesisOp(1000, "kill", "kill leader", "n1"),
		roles(1100, n1Down),
		roles(1600, n2Leads),
		nemesisOp(3000, "start", "kill leader", "n1"),
		roles(3800, n2All),
		healthyAfter(6000, "120ms", ""),
	}
	r := Checker{}.Check(context.Background(), ops)
	assert.Equal(t, checker.Valid, r.Verdict, r.Message)
	d := r.Details.(Details)
	require.Len(t, d.Windows, 1)
	w := d.Windows[0]
	assert.Equal(t, "n1", w.LeaderBefore)
	assert.Equal(t, "n2", w.NewLeader)
	assert.Equal(t, 600*time.Millisecond, w.NewLeaderAfter)
	assert.True(t, w.Recovered)
	assert.Equal(t, 800*time.Millisecond, w.RecoveredAfter)
	assert.Equal(t, 120*time.Millisecond, d.Final)
	require.Len(t, d.Kinds, 1)
	assert.Equal(t, 1, d.Kinds[0].Elections)
	assert.Contains(t, r.Message, "new leader in 600ms")
}

func TestRecoveryOfUpgradeStepsEndsWithEachStep(t *testing.T) {
	step := func(ms float64, typ history.Type, node string) history.Op {
		op := nemesisOp(ms, history.FUpgrade, "upgrade to debian=3.8.0-11+deb12u2", node)
		op.Type = typ
		return op
	}
	ops := []history.Op{
		roles(0, n1Leads),
		step(1000, history.Invoke, "n2"),
		step(3000, history.OK, "n2"),
		step(3500, history.Invoke, "n1"),
		roles(3600, n1Down),
		roles(4000, n2Leads),
		roles(5000, n2All),
		step(5200, history.OK, "n1"),
		nemesisOp(6000, "kill", "kill leader", "n2"),
		healthyAfter(9000, "1s", ""),
	}
	r := Checker{}.Check(context.Background(), ops)
	d := r.Details.(Details)
	require.Len(t, d.Windows, 3, "two upgrade steps and a kill: a step is not a fault until the end of the run")
	assert.Equal(t, Window{Fault: "upgrade to debian=3.8.0-11+deb12u2", Targets: []string{"n2"},
		Start: time.Second, Healed: 3 * time.Second, LeaderBefore: "n1", LeaderKept: true, Recovered: true}, d.Windows[0])
	leaderStep := d.Windows[1]
	assert.Equal(t, 3500*time.Millisecond, leaderStep.Start)
	assert.Equal(t, 5200*time.Millisecond, leaderStep.Healed)
	assert.Equal(t, "n2", leaderStep.NewLeader)
	assert.Equal(t, 500*time.Millisecond, leaderStep.NewLeaderAfter)
	assert.True(t, leaderStep.Recovered)
	assert.Equal(t, "kill leader", d.Windows[2].Fault)
}

func TestRecoveryOfAFollowerFaultKeepsTheLeader(t *testing.T) {
	ops := []history.Op{
		roles(0, n2All),
		nemesisOp(1000, "pause", "pause one", "n3"),
		roles(2000, map[string]string{"n1": "follower", "n2": "leader", "n3": "down"}),
		nemesisOp(3000, "resume", "pause one", "n3"),
		roles(3500, n2All),
		healthyAfter(4000, "1ms", ""),
	}
	r := Checker{}.Check(context.Background(), ops)
	w := r.Details.(Details).Windows[0]
	assert.True(t, w.LeaderKept)
	assert.Empty(t, w.NewLeader)
	assert.Equal(t, 500*time.Millisecond, w.RecoveredAfter)
}

func TestEnsembleThatNeverRecoversIsInvalid(t *testing.T) {
	ops := []history.Op{
		roles(0, n1Leads),
		nemesisOp(1000, "partition", "partition halves (hang)", "n1", "n2", "n3"),
		roles(1500, n1Down),
		nemesisOp(3000, "heal", "partition halves (hang)", "n1", "n2", "n3"),
		healthyAfter(63000, "", "not healthy after 1m0s: n1=down n2=follower n3=follower"),
	}
	r := Checker{}.Check(context.Background(), ops)
	assert.Equal(t, checker.Invalid, r.Verdict)
	assert.Contains(t, r.Message, "did not recover")
	d := r.Details.(Details)
	assert.False(t, d.Windows[0].Recovered)
	assert.Equal(t, 1, d.Kinds[0].NotRecovered)
}

func TestRecoveryWithoutFinalObservation(t *testing.T) {
	assert.Equal(t, checker.Valid, Checker{}.Check(context.Background(), nil).Verdict, "no faults, nothing to recover from")
	ops := []history.Op{nemesisOp(1000, "kill", "kill one", "n1")}
	assert.Equal(t, checker.Unknown, Checker{}.Check(context.Background(), ops).Verdict)
}

// TestRecoveryPairsEachHealWithItsOwnFault: a heal ends only the windows of
// its kind on its nodes, and a failed injection opens none, as
// fault.Windows reads them.
func TestRecoveryPairsEachHealWithItsOwnFault(t *testing.T) {
	failedPause := nemesisOp(500, "pause", "pause leader", "n1")
	failedPause.Type = history.Fail
	ops := []history.Op{
		roles(0, n1Leads),
		failedPause,
		nemesisOp(1000, "kill", "kill one", "n3"),
		nemesisOp(1500, "partition", "isolate leader", "n1"),
		nemesisOp(2000, "heal", "isolate leader", "n1"),
		nemesisOp(4000, "start", "kill one", "n3"),
		healthyAfter(6000, "10ms", ""),
	}
	d := Checker{}.Check(context.Background(), ops).Details.(Details)
	require.Len(t, d.Windows, 2, "the failed pause changed nothing")
	assert.Equal(t, "kill one", d.Windows[0].Fault)
	assert.Equal(t, 4000*time.Millisecond, d.Windows[0].Healed, "the partition's heal leaves the kill in force")
	assert.Equal(t, "isolate leader", d.Windows[1].Fault)
	assert.Equal(t, 2000*time.Millisecond, d.Windows[1].Healed)
}
