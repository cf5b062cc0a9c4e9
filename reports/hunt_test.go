package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// scriptRunDir writes a run directory whose script's step 10 fired (or
// not) and whose kill landed in its window (or not).
func scriptRunDir(t *testing.T, fired bool, window string) string {
	t.Helper()
	dir := t.TempDir()
	w, err := history.Create(filepath.Join(dir, history.FileName), time.Now())
	require.NoError(t, err)
	label := "step 10: kill C when C logs /NEWLEADER/"
	trig := &history.Trigger{Node: "n3", Saw: "Learner received NEWLEADER message"}
	op := history.Op{Type: history.Info, F: history.FTrigger, Process: history.NemesisProcess,
		Fault: &history.Fault{Name: label, Step: 10, Targets: []string{"n3"}, Trigger: trig}}
	if !fired {
		op.Error = "n3 never logged what the trigger waits for within 1m0s"
	}
	ops := []history.Op{
		{Type: history.Info, F: history.FStep, Process: history.NemesisProcess, Fault: &history.Fault{Name: "step 1: bind A to leader", Step: 1}},
		op,
	}
	if fired {
		done := *trig
		done.DelayNS, done.Window = int64(17*time.Millisecond), window
		f := &history.Fault{Name: label, Step: 10, Targets: []string{"n3"}, Trigger: trig}
		ops = append(ops,
			history.Op{Type: history.Invoke, F: "kill", Process: history.NemesisProcess, Fault: f},
			history.Op{Type: history.Info, F: "kill", Process: history.NemesisProcess,
				Fault: &history.Fault{Name: label, Step: 10, Targets: []string{"n3"}, Trigger: &done}})
	}
	for _, op := range ops {
		_, err := w.Append(op)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return dir
}

func TestHuntSumsTriggersWindowsAndHits(t *testing.T) {
	invalid := Results{Seed: 3, Verdict: checker.Invalid, Check: checker.Result{Checker: "all", Verdict: checker.Invalid,
		Children: []checker.Result{{Checker: "set", Verdict: checker.Invalid}, {Checker: "convergence", Verdict: checker.Valid},
			{Checker: "server-logs", Verdict: checker.Valid, Details: map[string]any{
				"n1": map[string]any{"lines": 10, "known_bugs": map[string]any{"ZOOKEEPER-4394": 2}},
				"n2": map[string]any{"lines": 10, "known_bugs": map[string]any{"ZOOKEEPER-4394": 1}},
			}}}}}
	var runs []HuntRun
	for _, c := range []struct {
		fired  bool
		window string
		res    Results
	}{
		{true, history.WindowLanded, Results{Seed: 1, Verdict: checker.Valid}},
		{false, "", Results{Seed: 2, Verdict: checker.Valid, ScriptStopped: "step 10: trigger"}},
		{true, history.WindowLanded, invalid},
		{true, history.WindowMissed, Results{Seed: 4, Verdict: checker.Valid}},
	} {
		r, err := ReadHuntRun(scriptRunDir(t, c.fired, c.window), c.res)
		require.NoError(t, err)
		runs = append(runs, r)
	}
	failed, err := ReadHuntRun(t.TempDir(), Results{Seed: 5, Verdict: checker.Unknown, Error: "start ensemble: boom"})
	require.NoError(t, err, "a run without a history is a failed run, not an error of the hunt")
	runs = append(runs, failed)

	assert.Equal(t, []string{"set"}, runs[2].Invalid)
	assert.Equal(t, map[string]int{"ZOOKEEPER-4394": 3}, runs[2].KnownBugs, "summed over the nodes, read back from JSON")
	assert.Equal(t, int64(17*time.Millisecond), runs[0].Steps[0].DelayNS)
	assert.Empty(t, runs[4].Verdict)

	h := SumHunt("ZOOKEEPER-4785", time.Now().Add(-time.Minute), runs)
	assert.Equal(t, 1, h.Hits)
	require.Len(t, h.Steps, 1, "only triggered steps are summed")
	assert.Equal(t, StepStats{Step: 10, Label: "step 10: kill C when C logs /NEWLEADER/",
		Reached: 4, Fired: 3, Landed: 2, Missed: 1, HitsWhenLanded: 1}, h.Steps[0])

	var text bytes.Buffer
	h.Text(&text)
	assert.Contains(t, text.String(), "5 runs")
	assert.Contains(t, text.String(), "seed 2      VALID")
	assert.Contains(t, text.String(), "step 10 trigger did not fire")
	assert.Contains(t, text.String(), "invalid: set; ZOOKEEPER-4394 ×3 in the logs; step 10 landed (+17ms)")
	assert.Contains(t, text.String(), "fired 3/4, landed in window 2/3, invalid when landed 1/2")
	assert.Contains(t, text.String(), "FAILED")
	assert.Contains(t, text.String(), "ZOOKEEPER-4394 ×3 in the logs")
	assert.Contains(t, text.String(), "ZOOKEEPER-4394 seen in the server logs of 1/5 runs")

	path := filepath.Join(t.TempDir(), HuntFile(h.Scenario, h.Started))
	require.NoError(t, h.Write(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var back Hunt
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, h.Steps, back.Steps)
	assert.Equal(t, 1, back.Hits)
}
