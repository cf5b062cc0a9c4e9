package reports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/nemesis/fault"
)

const ms = int64(time.Millisecond)

func call(p history.Process, f string, invoke, complete int64, t history.Type) []history.Op {
	return []history.Op{
		{Type: history.Invoke, F: f, Process: p, Time: invoke},
		{Type: t, F: f, Process: p, Time: complete},
	}
}

func nemesisOp(t history.Type, f, name string, at int64, targets ...string) history.Op {
	return history.Op{Type: t, F: f, Process: history.NemesisProcess, Time: at,
		Fault: &history.Fault{Name: name, Targets: targets}}
}

func roles(at int64, leader string) history.Op {
	r := map[string]string{"n1": "follower", "n2": "follower", "n3": "follower"}
	if leader != "" {
		r[leader] = "leader"
	}
	return history.Op{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: at, Roles: r}
}

func TestSummarize(t *testing.T) {
	var ops []history.Op
	ops = append(ops, roles(0, "n1"))
	// Ok reads every 100 ms from 0 to 2 s, a 3 s hole after a kill of the
	// leader at 2.05 s, then ok again from 5 s to 6 s.
	p := history.Process(0)
	for at := int64(0); at <= 2000*ms; at += 100 * ms {
		ops = append(ops, call(p, "read", at, at+10*ms, history.OK)...)
	}
	ops = append(ops, nemesisOp(history.Invoke, "kill", "kill-leader", 2050*ms))
	ops = append(ops, nemesisOp(history.OK, "kill", "kill-leader", 2060*ms, "n1"))
	ops = append(ops, roles(2100*ms, ""))
	ops = append(ops, call(p, "write", 2100*ms, 4000*ms, history.Info)...)
	ops = append(ops, roles(2500*ms, "n2"))
	ops = append(ops, nemesisOp(history.Invoke, "start", "kill-leader", 4500*ms, "n1"))
	ops = append(ops, nemesisOp(history.OK, "start", "kill-leader", 4600*ms, "n1"))
	for at := int64(5000 * ms); at <= 6000*ms; at += 100 * ms {
		ops = append(ops, call(p, "read", at, at+20*ms, history.OK)...)
	}

	s := Summarize(ops)

	reads := s.Latency["read"][history.OK]
	assert.Equal(t, 32, reads.Count)
	assert.Equal(t, 10*time.Millisecond, reads.P50)
	assert.Equal(t, 20*time.Millisecond, reads.P99)
	assert.Equal(t, 20*time.Millisecond, reads.Max)
	assert.Equal(t, Quantiles{Count: 1, P50: 1900 * time.Millisecond, P90: 1900 * time.Millisecond,
		P99: 1900 * time.Millisecond, Max: 1900 * time.Millisecond}, s.Latency["write"][history.Info])

	assert.Equal(t, time.Second, s.OutageThreshold, "ten median gaps of 100 ms is one second")
	require.Equal(t, []Window{{Start: 2010 * ms, End: 5020 * ms}}, s.Outages)
	assert.Equal(t, 3010*time.Millisecond, s.Unavailable)
	assert.InDelta(t, 1-3010.0/6020.0, s.Availability, 1e-9)

	require.Len(t, s.Recoveries, 1)
	r := s.Recoveries[0]
	assert.Equal(t, fault.Kill, r.Kind)
	assert.Equal(t, "kill-leader", r.Name)
	assert.Equal(t, []string{"n1"}, r.Targets)
	assert.True(t, r.Healed)
	assert.True(t, r.Applied)
	assert.Equal(t, Window{Start: 2050 * ms, End: 4600 * ms}, r.Window)
	assert.Equal(t, 420*time.Millisecond, r.RecoveredAfter, "first ok after the restart finished")
	assert.Equal(t, 2970*time.Millisecond, r.Unavailable, "the outage from the kill until service resumed")

	assert.Equal(t, []Tenure{
		{Node: "n1", Window: Window{Start: 0, End: 2100 * ms}},
		{Node: "", Window: Window{Start: 2100 * ms, End: 2500 * ms}},
		{Node: "n2", Window: Window{Start: 2500 * ms, End: 6020 * ms}},
	}, s.Leaders)
	assert.Equal(t, 1, s.LeaderChanges)
}

func TestSummarizeNeverRecovered(t *testing.T) {
	ops := call(0, "read", 0, 10*ms, history.OK)
	ops = append(ops, nemesisOp(history.Invoke, "partition", "partition-halves", 20*ms))
	ops = append(ops, call(1, "read", 30*ms, 5000*ms, history.Info)...)
	s := Summarize(ops)
	require.Len(t, s.Recoveries, 1)
	assert.False(t, s.Recoveries[0].Healed)
	assert.Equal(t, time.Duration(-1), s.Recoveries[0].RecoveredAfter)
	assert.Equal(t, []Window{{Start: 10 * ms, End: 5000 * ms}}, s.Outages)
	assert.Equal(t, 4980*time.Millisecond, s.Recoveries[0].Unavailable)
	assert.Empty(t, s.Leaders)
}

func TestSummarizeEmpty(t *testing.T) {
	s := Summarize(nil)
	assert.Empty(t, s.Outages)
	assert.Zero(t, s.Availability)
	assert.Empty(t, s.Latency)
}

func TestQuantilesOf(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond
	}
	q := QuantilesOf(ds)
	assert.Equal(t, Quantiles{Count: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond,
		P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}, q)
}
