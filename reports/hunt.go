package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/serverlogs"
	"github.com/zkchaos/zkchaos/history"
)

// Hunt is what repeated runs of one scenario found: each run's verdict and,
// per scripted step, how often its trigger fired and its action landed in
// the window it aimed at.
type Hunt struct {
	// Scenario is the scenario's name.
	Scenario string `json:"scenario"`
	// Started is when the first run started.
	Started time.Time `json:"started"`
	// Elapsed is the time the hunt took.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Hits counts runs judged invalid.
	Hits int `json:"hits"`
	// Runs are the runs in order.
	Runs []HuntRun `json:"runs"`
	// Steps sum up the triggered steps over every run.
	Steps []StepStats `json:"steps,omitempty"`
	// KnownBugs counts, by issue id, the runs whose server logs showed a
	// known ZooKeeper bug's signature.
	KnownBugs map[string]int `json:"known_bugs,omitempty"`
}

// HuntRun is one run of a hunt.
type HuntRun struct {
	// Dir is the run directory.
	Dir string `json:"dir"`
	// Seed reproduces the run's schedule and script choices.
	Seed int64 `json:"seed"`
	// Verdict is the run's verdict; "" when the harness failed.
	Verdict checker.Verdict `json:"verdict"`
	// Invalid names the checkers that judged the run invalid.
	Invalid []string `json:"invalid,omitempty"`
	// Error is the harness's error, when the run failed.
	Error string `json:"error,omitempty"`
	// ScriptStopped says why the script stopped before its end.
	ScriptStopped string `json:"script_stopped,omitempty"`
	// Steps are the triggered steps of the run's script.
	Steps []StepOutcome `json:"steps,omitempty"`
	// KnownBugs counts the servers' log lines that are signatures of known
	// ZooKeeper bugs, by issue id (the server-logs checker's finding).
	KnownBugs map[string]int `json:"known_bugs,omitempty"`
}

// StepOutcome is what one triggered step did in one run.
type StepOutcome struct {
	// Step is the step's 1-based number.
	Step int `json:"step"`
	// Label describes the step.
	Label string `json:"label"`
	// Fired is whether its trigger fired.
	Fired bool `json:"fired"`
	// Saw is what fired it; Error why it did not.
	Saw   string `json:"saw,omitempty"`
	Error string `json:"error,omitempty"`
	// DelayNS is the delay drawn before the action.
	DelayNS int64 `json:"delay_ns,omitempty"`
	// Window is landed, missed or "" (no window, or no action).
	Window string `json:"window,omitempty"`
}

// StepStats sums one triggered step over the runs of a hunt.
type StepStats struct {
	Step  int    `json:"step"`
	Label string `json:"label"`
	// Reached counts runs that armed the trigger; Fired those where it
	// fired; Landed and Missed the windows measured after it.
	Reached int `json:"reached"`
	Fired   int `json:"fired"`
	Landed  int `json:"landed"`
	Missed  int `json:"missed"`
	// HitsWhenLanded counts invalid runs among those that landed.
	HitsWhenLanded int `json:"hits_when_landed"`
}

// ReadHuntRun reads what a finished run's history says about its script.
// A run without a history (the harness failed early) has no steps.
func ReadHuntRun(dir string, res Results) (HuntRun, error) {
	r := HuntRun{Dir: dir, Seed: res.Seed, Verdict: res.Verdict, Error: res.Error, ScriptStopped: res.ScriptStopped}
	if res.Error != "" {
		r.Verdict = ""
	}
	for _, c := range leaves(res.Check) {
		if c.Verdict == checker.Invalid {
			r.Invalid = append(r.Invalid, c.Checker)
		}
		if c.Checker == "server-logs" {
			r.KnownBugs = knownBugs(c.Details)
		}
	}
	path := filepath.Join(dir, history.FileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	// One record at a time: a long run's history does not fit in memory.
	byStep := map[int]int{} // step -> index in r.Steps
	_, err := history.Scan(context.Background(), path, func(op *history.Op) error {
		if !op.IsNemesis() || op.Fault == nil || op.Fault.Step == 0 {
			return nil
		}
		if op.F == history.FTrigger {
			o := StepOutcome{Step: op.Fault.Step, Label: op.Fault.Name, Fired: op.Error == "", Error: op.Error}
			if op.Fault.Trigger != nil {
				o.Saw = op.Fault.Trigger.Saw
			}
			byStep[o.Step] = len(r.Steps)
			r.Steps = append(r.Steps, o)
			return nil
		}
		i, ok := byStep[op.Fault.Step]
		if !ok || op.Type == history.Invoke || op.Fault.Trigger == nil {
			return nil
		}
		r.Steps[i].DelayNS = op.Fault.Trigger.DelayNS
		r.Steps[i].Window = op.Fault.Trigger.Window
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("read %s history: %w", dir, err)
	}
	return r, nil
}

// knownBugs sums the server-logs checker's known-bug counts over the
// nodes. Details read back from results.json are plain JSON values, so
// they are decoded again into the checker's type.
func knownBugs(details any) map[string]int {
	b, err := json.Marshal(details)
	if err != nil {
		return nil
	}
	var logs map[string]serverlogs.NodeLog
	if json.Unmarshal(b, &logs) != nil {
		return nil
	}
	var out map[string]int
	for _, nl := range logs {
		for id, n := range nl.KnownBugs {
			if out == nil {
				out = map[string]int{}
			}
			out[id] += n
		}
	}
	return out
}

// leaves flattens a composed checker result.
func leaves(r checker.Result) []checker.Result {
	if len(r.Children) == 0 {
		return []checker.Result{r}
	}
	var out []checker.Result
	for _, c := range r.Children {
		out = append(out, leaves(c)...)
	}
	return out
}

// SumHunt sums the runs of a hunt up.
func SumHunt(scenario string, started time.Time, runs []HuntRun) Hunt {
	h := Hunt{Scenario: scenario, Started: started, Elapsed: time.Since(started), Runs: runs}
	stats := map[int]*StepStats{}
	for _, r := range runs {
		hit := r.Verdict == checker.Invalid
		if hit {
			h.Hits++
		}
		for id := range r.KnownBugs {
			if h.KnownBugs == nil {
				h.KnownBugs = map[string]int{}
			}
			h.KnownBugs[id]++
		}
		for _, s := range r.Steps {
			st := stats[s.Step]
			if st == nil {
				st = &StepStats{Step: s.Step, Label: s.Label}
				stats[s.Step] = st
			}
			st.Reached++
			if s.Fired {
				st.Fired++
			}
			switch s.Window {
			case history.WindowLanded:
				st.Landed++
				if hit {
					st.HitsWhenLanded++
				}
			case history.WindowMissed:
				st.Missed++
			}
		}
	}
	for _, st := range stats {
		h.Steps = append(h.Steps, *st)
	}
	slices.SortFunc(h.Steps, func(a, b StepStats) int { return a.Step - b.Step })
	return h
}

// HuntFile names a hunt's summary inside the root of run directories.
func HuntFile(scenario string, started time.Time) string {
	return fmt.Sprintf("hunt-%s-%s.json", scenario, started.UTC().Format("20060102T150405Z"))
}

// Write saves the hunt as indented JSON at path.
func (h Hunt) Write(path string) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("encode hunt summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write hunt summary: %w", err)
	}
	return nil
}

// Text prints the hunt for a terminal: a line per run, then a line per
// triggered step.
func (h Hunt) Text(w io.Writer) {
	fmt.Fprintf(w, "hunt %s: %d runs in %s, %d invalid\n", h.Scenario, len(h.Runs), h.Elapsed.Round(time.Second), h.Hits)
	for _, r := range h.Runs {
		verdict := strings.ToUpper(string(r.Verdict))
		if r.Error != "" {
			verdict = "FAILED"
		}
		var notes []string
		if len(r.Invalid) > 0 {
			notes = append(notes, "invalid: "+strings.Join(r.Invalid, ", "))
		}
		for _, id := range slices.Sorted(maps.Keys(r.KnownBugs)) {
			notes = append(notes, fmt.Sprintf("%s ×%d in the logs", id, r.KnownBugs[id]))
		}
		for _, s := range r.Steps {
			switch {
			case !s.Fired:
				notes = append(notes, fmt.Sprintf("step %d trigger did not fire", s.Step))
			case s.Window != "":
				notes = append(notes, fmt.Sprintf("step %d %s (+%s)", s.Step, s.Window, time.Duration(s.DelayNS).Round(time.Millisecond)))
			}
		}
		fmt.Fprintf(w, "  seed %-6d %-8s %s  %s\n", r.Seed, verdict, r.Dir, strings.Join(notes, "; "))
	}
	for _, id := range slices.Sorted(maps.Keys(h.KnownBugs)) {
		fmt.Fprintf(w, "  %s seen in the server logs of %d/%d runs\n", id, h.KnownBugs[id], len(h.Runs))
	}
	for _, s := range h.Steps {
		fmt.Fprintf(w, "  %s: fired %d/%d", s.Label, s.Fired, s.Reached)
		if s.Landed+s.Missed > 0 {
			fmt.Fprintf(w, ", landed in window %d/%d, invalid when landed %d/%d", s.Landed, s.Fired, s.HitsWhenLanded, s.Landed)
		}
		fmt.Fprintln(w)
	}
}
