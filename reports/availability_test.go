package reports

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zkchaos/zkchaos/checker"
	recoverycheck "github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

func TestBuildAvailabilityPutsTheServersBesideTheClients(t *testing.T) {
	p := smallRun() // a leader kill from 5 s, healed by 9.5 s; info writes from 5 s to 6 s
	s := Summarize(p.Ops)
	server := recoverycheck.Details{
		Final: 700 * time.Millisecond,
		Windows: []recoverycheck.Window{
			{Fault: "kill-leader", Targets: []string{"n2"}, Start: 5010 * time.Millisecond, Healed: 9500 * time.Millisecond,
				LeaderBefore: "n2", NewLeader: "n1", NewLeaderAfter: 1200 * time.Millisecond, Recovered: true, RecoveredAfter: 300 * time.Millisecond},
			{Fault: "pause-leader", Start: 50 * time.Second}, // no such window in the history
		},
		Kinds: []recoverycheck.Kind{{Fault: "kill-leader", Count: 1, Elections: 1}},
	}
	a := buildAvailability(s, fault.Windows(p.Ops), &server)
	require.Len(t, a.Recoveries, 1)
	r := a.Recoveries[0]
	assert.Equal(t, "kill-leader", r.Fault)
	assert.Equal(t, [2]float64{5, 9.5}, [2]float64{r.T0, r.T1})
	assert.Equal(t, formatDuration(s.Recoveries[0].Unavailable), r.Unavailable, "what the clients saw")
	assert.True(t, r.Server, "the recovery checker's window inside this one is the same fault")
	assert.Equal(t, "n2", r.LeaderBefore)
	assert.Equal(t, "n1", r.NewLeader)
	assert.Equal(t, "1.2s", r.NewLeaderAfter)
	assert.Equal(t, "300ms", r.Recovered)
	assert.Equal(t, "700ms", a.Final)
	assert.Equal(t, server.Kinds, a.Kinds)
	for _, o := range a.Outages {
		assert.Equal(t, "kill-leader", o.During, "the outage falls in the kill")
	}
	require.NotEmpty(t, a.Outages)

	none := buildAvailability(s, fault.Windows(p.Ops), nil)
	require.Len(t, none.Recoveries, 1)
	assert.False(t, none.Recoveries[0].Server, "no recovery checker: the clients' side only")
}

func TestRecoveryDetailsTypedOrReadBack(t *testing.T) {
	d := recoverycheck.Details{Final: time.Second, Windows: []recoverycheck.Window{{Fault: "kill-leader", Start: time.Second, NewLeader: "n3"}}}
	typed := checker.Result{Checker: "all", Children: []checker.Result{{Checker: "recovery", Details: d}}}
	got, err := recoveryDetails(typed)
	require.NoError(t, err)
	assert.Equal(t, d, *got)

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	var generic any
	require.NoError(t, json.Unmarshal(raw, &generic))
	got, err = recoveryDetails(checker.Result{Checker: "all", Children: []checker.Result{{Checker: "recovery", Details: generic}}})
	require.NoError(t, err)
	assert.Equal(t, d, *got, "as results.json gives it back")

	got, err = recoveryDetails(checker.Result{Checker: "all"})
	require.NoError(t, err)
	assert.Nil(t, got)
}
