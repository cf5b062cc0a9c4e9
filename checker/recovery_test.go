package checker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
)

func roles(ms float64, r map[string]string) history.Op {
	return history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: int64(ms * 1e6), Roles: r}
}

func fault(ms float64, f, name string, targets ...string) history.Op {
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
		fault(1000, "kill", "kill leader", "n1"),
		roles(1100, n1Down),
		roles(1600, n2Leads),
		fault(3000, "start", "kill leader", "n1"),
		roles(3800, n2All),
		healthyAfter(6000, "120ms", ""),
	}
	r := Recovery{}.Check(context.Background(), ops)
	assert.Equal(t, Valid, r.Verdict, r.Message)
	d := r.Details.(RecoveryDetails)
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

func TestRecoveryOfAFollowerFaultKeepsTheLeader(t *testing.T) {
	ops := []history.Op{
		roles(0, n2All),
		fault(1000, "pause", "pause one", "n3"),
		roles(2000, map[string]string{"n1": "follower", "n2": "leader", "n3": "down"}),
		fault(3000, "resume", "pause one", "n3"),
		roles(3500, n2All),
		healthyAfter(4000, "1ms", ""),
	}
	r := Recovery{}.Check(context.Background(), ops)
	w := r.Details.(RecoveryDetails).Windows[0]
	assert.True(t, w.LeaderKept)
	assert.Empty(t, w.NewLeader)
	assert.Equal(t, 500*time.Millisecond, w.RecoveredAfter)
}

func TestEnsembleThatNeverRecoversIsInvalid(t *testing.T) {
	ops := []history.Op{
		roles(0, n1Leads),
		fault(1000, "partition", "partition halves (hang)", "n1", "n2", "n3"),
		roles(1500, n1Down),
		fault(3000, "heal", "partition halves (hang)", "n1", "n2", "n3"),
		healthyAfter(63000, "", "not healthy after 1m0s: n1=down n2=follower n3=follower"),
	}
	r := Recovery{}.Check(context.Background(), ops)
	assert.Equal(t, Invalid, r.Verdict)
	assert.Contains(t, r.Message, "did not recover")
	d := r.Details.(RecoveryDetails)
	assert.False(t, d.Windows[0].Recovered)
	assert.Equal(t, 1, d.Kinds[0].NotRecovered)
}

func TestRecoveryWithoutFinalObservation(t *testing.T) {
	assert.Equal(t, Valid, Recovery{}.Check(context.Background(), nil).Verdict, "no faults, nothing to recover from")
	ops := []history.Op{fault(1000, "kill", "kill one", "n1")}
	assert.Equal(t, Unknown, Recovery{}.Check(context.Background(), ops).Verdict)
}
