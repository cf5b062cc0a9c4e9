package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zkchaos/zkchaos/checker"
	"github.com/zkchaos/zkchaos/history"
	"github.com/zkchaos/zkchaos/reports"
	"github.com/zkchaos/zkchaos/scenarios"
	"github.com/zkchaos/zkchaos/workloads"
)

// Check judges the history stored in a run directory, offline, with the
// checkers its resolved scenario calls for, and writes results.json and
// report.html. Facts about the run that only the run itself knew (start
// time, time until healthy, node logs) are kept from an earlier results.json.
func Check(ctx context.Context, dir string) (reports.Results, error) {
	s, err := scenarios.Load(filepath.Join(dir, ScenarioFile))
	if err != nil {
		return reports.Results{}, fmt.Errorf("run directory %s: %w", dir, err)
	}
	base, err := reports.ReadResults(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return reports.Results{}, err
	}
	base.Scenario, base.Seed = s.Name, s.Seed
	wl, err := workloadFor(s)
	if err != nil {
		return base, err
	}
	return judge(ctx, dir, s, wl, base)
}

func judge(ctx context.Context, dir string, s *scenarios.Scenario, wl workloads.Workload, res reports.Results) (reports.Results, error) {
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil {
		return res, err
	}
	c := checker.Compose("zkchaos", wl.Checker(s.Checker.TimeBudget),
		checker.Recovery{}, checker.Convergence{}, checker.ServerLogs{Logs: nodeLogs(dir)})
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
