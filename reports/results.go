// Package reports writes what a run leaves for people and machines:
// results.json (the verdict and the facts a reader needs), report.html (one
// self-contained page that opens with no network) and the run directory
// layout with its latest link.
//
// Like checker, it works from a run directory alone, so that old runs can be
// reported on again without a cluster.
package reports

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
)

// ResultsFile is the name of the results inside a run directory.
const ResultsFile = "results.json"

// Results is results.json: the verdict of one run and the facts a reader needs.
type Results struct {
	Scenario string          `json:"scenario"`
	Seed     int64           `json:"seed"`
	Verdict  checker.Verdict `json:"verdict"`
	Check    checker.Result  `json:"check"`   // the composed checker result
	Counts   Counts          `json:"counts"`  // f -> type(ok/fail/info) -> n, client ops only
	Started  time.Time       `json:"started"` // wall-clock start of the run
	// HistoryStarted is the wall-clock time the history's clock reads 0:
	// when the workload began, after the ensemble was healthy.
	HistoryStarted time.Time     `json:"history_started,omitzero"`
	Duration       time.Duration `json:"duration_ns"`      // workload phase
	HealthyAfter   time.Duration `json:"healthy_after_ns"` // ensemble start until healthy
	// RecoveredAfter is how long the ensemble took to be healthy again after
	// the final heal (0 when there was nothing to recover from, or it never was).
	RecoveredAfter time.Duration `json:"recovered_after_ns,omitempty"`
	OpsPerSecond   float64       `json:"ops_per_second"` // completed client ops / duration
	Interrupted    bool          `json:"interrupted"`
	Error          string        `json:"error,omitempty"` // harness error, if the run failed
	// ScriptStopped says why the scenario's script stopped before its last
	// step (a trigger that never fired, an action that failed); the run is
	// judged all the same.
	ScriptStopped string `json:"script_stopped,omitempty"`
	// Distribution names the ZooKeeper the servers ran, e.g. "debian 3.8.0-11+deb12u2".
	Distribution string `json:"distribution,omitempty"`
	// Builds are the servers' own words for what they run, by node: the
	// version line of their srvr reply (e.g. "3.9.3-${mvngit.commit.id},
	// built on 2026-03-08 16:19 UTC"), read once the ensemble was healthy
	// and again at the end, "FIRST -> LAST" when it changed (an upgrade).
	Builds map[string]string `json:"builds,omitempty"`
	Nodes  []string          `json:"nodes"`
	Logs   []string          `json:"logs"` // node log paths relative to the run dir
	// RunPeakRSS is the harness's peak resident memory in bytes until the
	// ensemble was torn down, before the history is read back to be judged:
	// what a long run costs while it records (0 when unknown).
	RunPeakRSS int64 `json:"run_peak_rss_bytes,omitempty"`
	// Summary holds latency, availability, recovery and leadership, from
	// the history; absent when the history could not be read.
	Summary *Summary `json:"summary,omitempty"`
}

// Counts maps an operation name to how many of its completions ended ok, fail or info.
type Counts map[string]map[history.Type]int

// Total returns how many completions Counts holds, over every f and outcome.
func (c Counts) Total() int {
	n := 0
	for _, byType := range c {
		for _, k := range byType {
			n += k
		}
	}
	return n
}

// CountOps counts the completions of client ops (not nemesis records, not invokes).
func CountOps(ops []history.Op) Counts {
	c := Counts{}
	for i := range ops {
		c.Add(&ops[i])
	}
	return c
}

// Add counts op if it is a client's completion.
func (c Counts) Add(op *history.Op) {
	if op.IsNemesis() || op.Type == history.Invoke {
		return
	}
	byType := c[op.F]
	if byType == nil {
		byType = map[history.Type]int{}
		c[op.F] = byType
	}
	byType[op.Type]++
}

// WriteResults writes dir/results.json atomically (temp file + rename), so a
// reader never sees half a verdict.
func WriteResults(dir string, r Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results of %s: %w", dir, err)
	}
	return WriteFileAtomic(filepath.Join(dir, ResultsFile), append(b, '\n'))
}

// ReadResults reads dir/results.json. Checker details come back as generic
// JSON values, and visualizations (not part of the JSON) are absent.
func ReadResults(dir string) (Results, error) {
	path := filepath.Join(dir, ResultsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return Results{}, fmt.Errorf("read results: %w", err)
	}
	return decodeResults(b, path)
}

// ReadResultsFS is ReadResults for the run directory dir (a slash path) in
// fsys, such as an os.Root's, through which every file is opened.
func ReadResultsFS(fsys fs.FS, dir string) (Results, error) {
	name := path.Join(dir, ResultsFile)
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return Results{}, fmt.Errorf("read results: %w", err)
	}
	return decodeResults(b, name)
}

// decodeResults decodes results.json, read from path.
func decodeResults(b []byte, path string) (Results, error) {
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return Results{}, fmt.Errorf("decode %s: %w", path, err)
	}
	return r, nil
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// into place: a crash leaves either the old file or the new one, never a torn one.
func WriteFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
