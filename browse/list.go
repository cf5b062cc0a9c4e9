// Package browse is the run browser: it lists a directory of runs with their
// verdicts and serves each run's report and files on loopback.
package browse

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/reports"
)

// Run is one run directory as the index shows it.
type Run struct {
	// Path is the run directory relative to the root, slash-separated.
	Path         string          `json:"path"`
	Scenario     string          `json:"scenario"`
	Seed         int64           `json:"seed"`
	Started      time.Time       `json:"started"`
	Verdict      checker.Verdict `json:"verdict"`
	Duration     time.Duration   `json:"duration_ns"`
	Ops          int             `json:"ops"`
	OpsPerSecond float64         `json:"ops_per_second"`
	Distribution string          `json:"distribution,omitempty"`
	Interrupted  bool            `json:"interrupted,omitempty"`
	// Error is the harness's error, or why results.json could not be read.
	Error string `json:"error,omitempty"`
	// HasReport says whether report.html exists.
	HasReport bool `json:"has_report"`
}

// Comparison is a directory holding a comparison of two sets of runs.
type Comparison struct {
	// Path is the directory relative to the root, slash-separated.
	Path string `json:"path"`
	// Written is when its page was last written.
	Written time.Time `json:"written"`
}

// comparisonFile is the page a comparison directory holds.
const comparisonFile = "compare.html"

// Index is what a root directory holds: runs newest first, comparisons newest first.
type Index struct {
	Runs        []Run        `json:"runs"`
	Comparisons []Comparison `json:"comparisons"`
}

// List reads the index of the runs in fsys, such as an os.Root's, through
// which every file is opened. A run whose results.json cannot be read is
// listed with the reason in Error and an unknown verdict, not left out.
func List(fsys fs.FS) (Index, error) {
	dirs, _, err := reports.FindRunsFS(fsys, ".")
	if err != nil {
		return Index{}, fmt.Errorf("list runs: %w", err)
	}
	var idx Index
	for _, dir := range dirs {
		idx.Runs = append(idx.Runs, readRun(fsys, dir))
	}
	sort.SliceStable(idx.Runs, func(i, j int) bool { return idx.Runs[i].Started.After(idx.Runs[j].Started) })
	idx.Comparisons, err = findComparisons(fsys)
	if err != nil {
		return Index{}, err
	}
	return idx, nil
}

// readRun summarizes the run directory dir of fsys.
func readRun(fsys fs.FS, dir string) Run {
	run := Run{Path: dir, Verdict: checker.Unknown}
	_, err := fs.Stat(fsys, path.Join(dir, reports.ReportFile))
	run.HasReport = err == nil
	res, err := reports.ReadResultsFS(fsys, dir)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	run.Scenario, run.Seed, run.Started = res.Scenario, res.Seed, res.Started
	run.Verdict, run.Duration, run.Ops = res.Verdict, res.Duration, res.Counts.Total()
	run.OpsPerSecond, run.Distribution = res.OpsPerSecond, res.Distribution
	run.Interrupted, run.Error = res.Interrupted, res.Error
	return run
}

// findComparisons lists the directories of fsys holding a comparison page.
func findComparisons(fsys fs.FS) ([]Comparison, error) {
	var out []Comparison
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("list comparisons: %w", err)
		}
		if d.IsDir() {
			if _, err := fs.Stat(fsys, path.Join(name, reports.ResultsFile)); err == nil {
				return fs.SkipDir // a run holds no comparisons
			}
			return nil
		}
		if d.Name() != comparisonFile {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return fmt.Errorf("list comparisons: %w", err)
		}
		out = append(out, Comparison{Path: path.Dir(name), Written: info.ModTime()})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Written.After(out[j].Written) })
	return out, err
}
