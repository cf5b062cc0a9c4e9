package fault

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/internal/histtest"
)

func TestFaultWindowsPairKillWithTheNextStartOfTheSameNode(t *testing.T) {
	ops := []history.Op{
		histtest.Nemesis(history.Invoke, "kill", 2, "kill-one", "n1"),
		histtest.Nemesis(history.Info, "kill", 2.1, "kill-one", "n1"),
		histtest.Nemesis(history.Invoke, "kill", 3, "kill-one", "n2"),
		histtest.Nemesis(history.Info, "kill", 3.1, "kill-one", "n2"),
		histtest.Nemesis(history.Invoke, "start", 5, "kill-one", "n2"),
		histtest.Nemesis(history.Info, "start", 5.5, "kill-one", "n2"),
		histtest.Nemesis(history.Invoke, "start", 7, "kill-one", "n1"),
		histtest.Nemesis(history.Info, "start", 7.25, "kill-one", "n1"),
		histtest.Client(history.OK, 9),
	}
	ws := Windows(ops)
	require.Len(t, ws, 2)
	assert.Equal(t, Window{Kind: Kill, F: "kill", Label: "kill-one", Targets: []string{"n1"},
		Start: histtest.Sec(2), End: histtest.Sec(7.25), Healed: true, HealF: "start", Outcome: history.Info}, ws[0],
		"the window runs from the kill's invoke until the start completed")
	assert.Equal(t, []string{"n2"}, ws[1].Targets)
	assert.Equal(t, histtest.Sec(3), ws[1].Start)
	assert.Equal(t, histtest.Sec(5.5), ws[1].End)
}

func TestFaultWindowsFromCompletionRecordsOnly(t *testing.T) {
	ops := []history.Op{
		histtest.Nemesis(history.OK, "pause", 1, "pause-leader", "n3"),
		histtest.Nemesis(history.OK, "partition", 2, "isolate-leader", "n1", "n2", "n3"),
		histtest.Nemesis(history.OK, "resume", 4, "pause-leader", "n3"),
		histtest.Nemesis(history.OK, "heal", 6, "isolate-leader"),
	}
	ws := Windows(ops)
	require.Len(t, ws, 2)
	assert.Equal(t, "pause", ws[0].F)
	assert.Equal(t, [2]int64{histtest.Sec(1), histtest.Sec(4)}, [2]int64{ws[0].Start, ws[0].End})
	assert.Equal(t, "resume", ws[0].HealF)
	assert.Equal(t, "partition", ws[1].F)
	assert.Equal(t, [2]int64{histtest.Sec(2), histtest.Sec(6)}, [2]int64{ws[1].Start, ws[1].End}, "a heal without targets ends every partition")
}

func TestFaultWindowsNeverHealedExtendToTheEndOfTheRun(t *testing.T) {
	ops := []history.Op{
		histtest.Nemesis(history.Invoke, "kill", 1, "kill-leader", "n2"),
		histtest.Nemesis(history.Info, "kill", 1.2, "kill-leader", "n2"),
		histtest.Nemesis(history.Invoke, "start", 3, "kill-leader", "n1"), // another node: does not heal n2
		histtest.Client(history.OK, 12.5),
	}
	ws := Windows(ops)
	require.Len(t, ws, 1)
	assert.False(t, ws[0].Healed)
	assert.Equal(t, histtest.Sec(12.5), ws[0].End)
}

func TestFaultWindowsAFailedInjectionWasNotApplied(t *testing.T) {
	ops := []history.Op{
		histtest.Nemesis(history.Invoke, "pause", 1, "pause-one", "n1"),
		histtest.Nemesis(history.Fail, "pause", 1.5, "pause-one", "n1"),
		histtest.Client(history.OK, 10),
	}
	ws := Windows(ops)
	require.Len(t, ws, 1)
	assert.False(t, ws[0].Applied())
	assert.Equal(t, histtest.Sec(1.5), ws[0].End, "nothing to heal, so the window closes at once")
}

func TestFaultWindowsLearnTargetsFromTheInjectionsCompletion(t *testing.T) {
	// The nemesis does not know whom kill-leader hits until it acts: the
	// invoke has no targets, the completion names them.
	ops := []history.Op{
		histtest.Nemesis(history.Invoke, "kill", 10, "kill-leader"),
		histtest.Nemesis(history.Info, "kill", 10.01, "kill-leader", "n3"),
		histtest.Nemesis(history.Invoke, "start", 15, "kill-leader", "n3"),
		histtest.Nemesis(history.Info, "start", 15.01, "kill-leader", "n3"),
		histtest.Client(history.OK, 20),
	}
	ws := Windows(ops)
	require.Len(t, ws, 1, "one fault is one window")
	assert.Equal(t, []string{"n3"}, ws[0].Targets)
	assert.Equal(t, histtest.Sec(10), ws[0].Start)
	assert.Equal(t, histtest.Sec(15.01), ws[0].End)
	assert.True(t, ws[0].Healed)
}

func TestFaultWindowsLeaveOutTheHarnessObservations(t *testing.T) {
	ops := []history.Op{
		{Type: history.Info, F: history.FRoles, Process: history.NemesisProcess, Time: histtest.Sec(1), Roles: map[string]string{"n1": "leader"}},
		{Type: history.Info, F: history.FHealthy, Process: history.NemesisProcess, Time: histtest.Sec(2), Fault: &history.Fault{Name: "final heal", Detail: "3ms"}},
	}
	assert.Empty(t, Windows(ops))
}

func TestFaultWindowsAVersionChangeEndsWithItsOwnCompletion(t *testing.T) {
	upgrade := func(typ history.Type, at float64, node, detail string) history.Op {
		op := histtest.Nemesis(typ, "upgrade", at, "rolling-upgrade", node)
		op.Fault.Detail = detail
		return op
	}
	ops := []history.Op{
		upgrade(history.Invoke, 10, "n1", ""),
		upgrade(history.OK, 12, "n1", "3.8.4 -> 3.9.3"),
		histtest.Nemesis(history.Invoke, "kill", 13, "kill-leader"),
		histtest.Nemesis(history.Info, "kill", 13.1, "kill-leader", "n2"),
		upgrade(history.Invoke, 14, "n3", ""),
		histtest.Nemesis(history.OK, "start", 15, "kill-leader", "n2", "n3"),
		histtest.Nemesis(history.OK, "heal", 15.5, "final heal", "n1", "n2", "n3"), // no healing action ends a version change
		upgrade(history.Info, 16, "n3", "3.8.4 -> 3.9.3"),
		histtest.Nemesis(history.Invoke, "rollback", 20, "rolling-upgrade", "n1"),
		histtest.Nemesis(history.Fail, "rollback", 20.5, "rolling-upgrade", "n1"),
		histtest.Client(history.OK, 30),
	}
	ws := Windows(ops)
	require.Len(t, ws, 4)
	assert.Equal(t, Window{Kind: Upgrade, F: "upgrade", Label: "rolling-upgrade", Targets: []string{"n1"}, Start: histtest.Sec(10), End: histtest.Sec(12),
		Healed: true, HealF: "upgrade", Outcome: history.OK, Detail: "3.8.4 -> 3.9.3"}, ws[0],
		"from its invoke to its completion, not until the end of the run")
	assert.Equal(t, [2]int64{histtest.Sec(13), histtest.Sec(15)}, [2]int64{ws[1].Start, ws[1].End}, "the kill is healed as before")
	assert.Equal(t, [2]int64{histtest.Sec(14), histtest.Sec(16)}, [2]int64{ws[2].Start, ws[2].End})
	assert.True(t, ws[2].Healed)
	assert.Equal(t, history.Info, ws[2].Outcome, "an info completion may have changed the version")
	assert.False(t, ws[3].Applied(), "a failed rollback changed nothing")
	assert.Equal(t, histtest.Sec(20.5), ws[3].End)
}

func TestFaultWindowsAVersionChangeNeverCompletedLastsToTheEnd(t *testing.T) {
	ops := []history.Op{
		histtest.Nemesis(history.Invoke, "upgrade", 10, "rolling-upgrade", "n2"),
		histtest.Client(history.OK, 25),
	}
	ws := Windows(ops)
	require.Len(t, ws, 1)
	assert.False(t, ws[0].Healed)
	assert.Equal(t, histtest.Sec(25), ws[0].End)
}

func TestFaultWindowsAVersionChangeSeenOnlyByItsCompletion(t *testing.T) {
	ws := Windows([]history.Op{histtest.Nemesis(history.OK, "rollback", 4, "rolling-upgrade", "n1"), histtest.Client(history.OK, 9)})
	require.Len(t, ws, 1)
	assert.Equal(t, [2]int64{histtest.Sec(4), histtest.Sec(4)}, [2]int64{ws[0].Start, ws[0].End})
	assert.True(t, ws[0].Healed)
}
