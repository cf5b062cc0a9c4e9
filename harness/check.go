package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/checker/convergence"
	"github.com/zkchaos/zkchaos/checker/recovery"
	"github.com/zkchaos/zkchaos/checker/serverlogs"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads"
)

// ErrBadInput marks errors caused by what the harness was given rather than
// by the harness: a run directory whose scenario, history or results cannot
// be read, a distribution directory that holds no ZooKeeper.
var ErrBadInput = errors.New("bad input")

// badInputError is an error matching ErrBadInput with the message of the
// error it wraps.
type badInputError struct{ err error }

// Error returns the wrapped error's message.
func (e badInputError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e badInputError) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrBadInput) true.
func (e badInputError) Is(target error) bool { return target == ErrBadInput }

// badInput marks err as bad input.
func badInput(err error) error { return badInputError{err: err} }

// Check judges the history stored in a run directory, offline, with the
// checkers its resolved scenario calls for, and writes results.json and
// report.html. Facts about the run that only the run itself knew (start
// time, time until healthy, node logs) are kept from an earlier results.json.
// A run directory that cannot be judged (its scenario, history or results
// unreadable) is an error matching ErrBadInput.
func Check(ctx context.Context, dir string) (reports.Results, error) {
	s, err := scenarios.Load(filepath.Join(dir, ScenarioFile))
	if err != nil {
		return reports.Results{}, badInput(fmt.Errorf("run directory %s: %w", dir, err))
	}
	base, err := reports.ReadResults(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return reports.Results{}, badInput(fmt.Errorf("run directory %s: %w", dir, err))
	}
	base.Scenario, base.Seed = s.Name, s.Seed
	wl, err := workloadFor(s)
	if err != nil {
		return base, badInput(fmt.Errorf("run directory %s: %w", dir, err))
	}
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil {
		return base, badInput(fmt.Errorf("run directory %s: %w", dir, err))
	}
	return judgeRead(ctx, dir, s, wl, base, read)
}

// judge judges the history in dir and writes the reports.
func judge(ctx context.Context, dir string, s *scenarios.Scenario, wl workloads.Workload, res reports.Results) (reports.Results, error) {
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil {
		return res, err
	}
	return judgeRead(ctx, dir, s, wl, res, read)
}

// judgeRead judges a history read from dir and writes the reports.
func judgeRead(ctx context.Context, dir string, s *scenarios.Scenario, wl workloads.Workload, res reports.Results, read history.ReadResult) (reports.Results, error) {
	c := checker.Compose("zkchaos", wl.Checker(s.Checker.TimeBudget),
		recovery.Checker{}, convergence.Checker{}, serverlogs.Checker{Logs: nodeLogs(dir)})
	res.Check = c.Check(ctx, read.Ops)
	res.Verdict = res.Check.Verdict
	if read.TornTail {
		res.Check.Message += " (the history's last line was torn by a crash and was left out)"
	}
	res.Counts = reports.CountOps(read.Ops)
	if res.Duration > 0 {
		var n int
		for _, byType := range res.Counts {
			n += byType[history.OK] + byType[history.Fail] + byType[history.Info]
		}
		res.OpsPerSecond = float64(n) / res.Duration.Seconds()
	}
	return writeReportsWithOps(dir, res, read.Ops)
}

// writeReports writes results.json and report.html from the history on disk,
// for a run that was not judged; it returns the results as written.
func writeReports(dir string, res reports.Results) (reports.Results, error) {
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	res.Counts = reports.CountOps(read.Ops)
	return writeReportsWithOps(dir, res, read.Ops)
}

// writeReportsWithOps completes res with the history's summary and writes
// results.json and report.html; it returns the results as written.
func writeReportsWithOps(dir string, res reports.Results, ops []history.Op) (reports.Results, error) {
	if res.Verdict == "" {
		res.Verdict = checker.Unknown
	}
	summary := reports.Summarize(ops)
	res.Summary = &summary
	if err := reports.WriteResults(dir, res); err != nil {
		return res, err
	}
	yaml, err := os.ReadFile(filepath.Join(dir, ScenarioFile))
	if err != nil {
		return res, fmt.Errorf("read resolved scenario: %w", err)
	}
	return res, reports.WriteHTML(dir, reports.Page{Results: res, Ops: ops, ScenarioYAML: string(yaml)})
}

// nodeLogs finds the servers' logs in a run directory: node name -> path.
func nodeLogs(dir string) map[string]string {
	found, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "zookeeper.log"))
	logs := map[string]string{}
	for _, f := range found {
		logs[filepath.Base(filepath.Dir(f))] = f
	}
	return logs
}
