package compare

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
)

// Run is one run directory's results, ready to compare.
type Run struct {
	// Dir is the run directory.
	Dir string
	// Results is its results.json; Summary is filled in from the history
	// when an older results.json lacks it.
	Results reports.Results
	// Distribution names the ZooKeeper the run used: results.json's, or
	// else the resolved scenario's cluster.distribution.
	Distribution string
}

// Complete reports whether the run finished and was judged; runs the harness
// could not finish or that were interrupted are listed but not compared.
func (r Run) Complete() bool { return r.Results.Error == "" && !r.Results.Interrupted }

// skipReason says why an incomplete run is left out.
func (r Run) skipReason() string {
	if r.Results.Error != "" {
		return "harness error: " + r.Results.Error
	}
	return "interrupted"
}

// LoadRun reads a run directory. An older results.json without the summary
// has it computed from history.jsonl; a run that did not complete needs
// neither, since it is not compared.
func LoadRun(dir string) (Run, error) {
	return loadRun(dir, runFiles{
		results:  func() (reports.Results, error) { return reports.ReadResults(dir) },
		history:  func() (history.ReadResult, error) { return history.ReadFile(filepath.Join(dir, history.FileName)) },
		scenario: func() ([]byte, error) { return os.ReadFile(filepath.Join(dir, scenarioFile)) },
	})
}

// LoadRunFS is LoadRun for the run directory dir (a slash path) in fsys, such
// as an os.Root's, through which every file is opened.
func LoadRunFS(fsys fs.FS, dir string) (Run, error) {
	return loadRun(dir, runFiles{
		results:  func() (reports.Results, error) { return reports.ReadResultsFS(fsys, dir) },
		history:  func() (history.ReadResult, error) { return history.ReadFS(fsys, path.Join(dir, history.FileName)) },
		scenario: func() ([]byte, error) { return fs.ReadFile(fsys, path.Join(dir, scenarioFile)) },
	})
}

// scenarioFile is the scenario a run directory keeps.
const scenarioFile = "scenario.yaml"

// runFiles reads one run directory's files.
type runFiles struct {
	results  func() (reports.Results, error)
	history  func() (history.ReadResult, error)
	scenario func() ([]byte, error)
}

func loadRun(dir string, files runFiles) (Run, error) {
	res, err := files.results()
	if err != nil {
		return Run{}, err
	}
	r := Run{Dir: dir, Results: res, Distribution: res.Distribution}
	if r.Complete() && res.Summary == nil {
		read, err := files.history()
		if err != nil {
			return Run{}, fmt.Errorf("%s has no summary, and computing it from the history failed: %w",
				filepath.Join(dir, reports.ResultsFile), err)
		}
		s := reports.Summarize(read.Ops)
		r.Results.Summary = &s
	}
	if r.Distribution == "" {
		data, err := files.scenario()
		if err == nil {
			var s *scenarios.Scenario
			if s, err = scenarios.Parse(filepath.Join(dir, scenarioFile), "scenario", data); err == nil {
				r.Distribution = s.Cluster.Section.DistributionName()
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// The distribution is only a label; a scenario file from an
			// older schema does not make the run unusable.
			r.Distribution = "unknown (" + err.Error() + ")"
		}
	}
	return r, nil
}
