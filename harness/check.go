package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

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
	res, err := judge(ctx, dir, s, wl, base, slog.Default())
	if errors.Is(err, history.ErrUnreadable) {
		return res, badInput(fmt.Errorf("run directory %s: %w", dir, err))
	}
	return res, err
}

// judge judges the history in dir and writes the reports. When every
// checker of the run can, it judges one key at a time, so that memory is
// bounded by the largest key's share of the history whatever the run's
// length: the history is read once, split by key into spill files in dir
// (removed after, as are those a killed judgement left) and folded into
// the counts and the report's digest on the way. Otherwise, and for a history whose records are out of time order
// (which the writer never leaves, but a hand-made history may), it reads
// the history whole. log shows the progress of a long judgement.
func judge(ctx context.Context, dir string, s *scenarios.Scenario, wl workloads.Workload, res reports.Results, log *slog.Logger) (reports.Results, error) {
	c := checker.Compose("zkchaos", wl.Checker(s.Checker.TimeBudget),
		recovery.Checker{}, convergence.Checker{}, serverlogs.Checker{Logs: nodeLogs(dir)})
	j, ok := checker.StartByKey(ctx, c)
	if !ok {
		return judgeWhole(ctx, dir, c, res)
	}
	// What a judgement killed before it could clean up left in dir.
	removed, err := history.RemoveStaleSpills(dir)
	if err != nil {
		return res, err
	}
	for _, d := range removed {
		log.Info("removed the spill files of a judgement that did not finish", "dir", d)
	}
	defer limitJudgeMemory()()
	counts, dg := reports.Counts{}, reports.NewDigest()
	judged, err := checker.JudgeFile(ctx, j, filepath.Join(dir, history.FileName), dir,
		func(op *history.Op) { counts.Add(op); dg.Add(op) }, judgeProgress(log, s.Checker.TimeBudget))
	if err != nil {
		return res, err
	}
	if !judged.Ordered {
		return judgeWhole(ctx, dir, c, res)
	}
	res.Check = judged.Result
	return judgeDone(dir, res, judged.TornTail, counts, dg, judged.Evidence)
}

// judgeMemoryLimit is the soft limit on the Go heap while a history is
// judged key by key, unless GOMEMLIMIT sets one: each key's records are
// garbage once it is judged, and collecting them sooner keeps the peak near
// what the keys being judged hold rather than twice that.
const judgeMemoryLimit = 384 << 20

// limitJudgeMemory sets judgeMemoryLimit unless GOMEMLIMIT sets a limit, and
// returns what restores the limit before.
func limitJudgeMemory() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	old := debug.SetMemoryLimit(judgeMemoryLimit)
	return func() { debug.SetMemoryLimit(old) }
}

// judgeWhole judges the history in dir with c, read whole into memory, and
// writes the reports.
func judgeWhole(ctx context.Context, dir string, c checker.Checker, res reports.Results) (reports.Results, error) {
	read, err := history.ReadFile(filepath.Join(dir, history.FileName))
	if err != nil {
		return res, err
	}
	res.Check = c.Check(ctx, read.Ops)
	return judgeDone(dir, res, read.TornTail, reports.CountOps(read.Ops), reports.DigestOf(read.Ops), read.Ops)
}

// judgeDone completes the results of a judged history and writes the
// reports; ops are the records the report shows.
func judgeDone(dir string, res reports.Results, torn bool, counts reports.Counts, dg *reports.Digest, ops []history.Op) (reports.Results, error) {
	res.Verdict = res.Check.Verdict
	if torn {
		res.Check.Message += " (the history's last line was torn by a crash and was left out)"
	}
	res.Counts = counts
	if res.Duration > 0 {
		var n int
		for _, byType := range res.Counts {
			n += byType[history.OK] + byType[history.Fail] + byType[history.Info]
		}
		res.OpsPerSecond = float64(n) / res.Duration.Seconds()
	}
	return writeReportsWith(dir, res, dg, ops)
}

// judgeProgress logs how far a judgement has come, every few seconds once
// it has taken more than a few: the records read, the keys judged, and the
// time left of the linearizability budget, which counts from the first key.
func judgeProgress(log *slog.Logger, budget time.Duration) func(checker.Progress) {
	const every = 5 * time.Second
	start := time.Now()
	var shown, keysFrom time.Time
	return func(p checker.Progress) {
		now := time.Now()
		if p.Keys > 0 && keysFrom.IsZero() {
			keysFrom = now
		}
		if now.Sub(start) < every || now.Sub(shown) < every {
			return
		}
		shown = now
		args := []any{"records", p.Records}
		if p.Keys > 0 {
			args = append(args, "keys", fmt.Sprintf("%d/%d", p.KeysDone, p.Keys))
			if budget > 0 {
				args = append(args, "budget_left", max(budget-now.Sub(keysFrom), 0).Round(time.Second))
			}
		}
		log.Info("judging the history", args...)
	}
}

// writeReports writes results.json and report.html from the history on disk,
// for a run that was not judged; it returns the results as written.
func writeReports(ctx context.Context, dir string, res reports.Results) (reports.Results, error) {
	counts, dg := reports.Counts{}, reports.NewDigest()
	_, err := history.Scan(ctx, filepath.Join(dir, history.FileName), func(op *history.Op) error {
		counts.Add(op)
		dg.Add(op)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	res.Counts = counts
	return writeReportsWith(dir, res, dg, dg.Others())
}

// writeReportsWith completes res with the history's summary and writes
// results.json and report.html, which draws from dg and shows ops; it
// returns the results as written.
func writeReportsWith(dir string, res reports.Results, dg *reports.Digest, ops []history.Op) (reports.Results, error) {
	if res.Verdict == "" {
		res.Verdict = checker.Unknown
	}
	summary := dg.Summary()
	res.Summary = &summary
	if err := reports.WriteResults(dir, res); err != nil {
		return res, err
	}
	yaml, err := os.ReadFile(filepath.Join(dir, ScenarioFile))
	if err != nil {
		return res, fmt.Errorf("read resolved scenario: %w", err)
	}
	return res, reports.WriteHTML(dir, reports.Page{Results: res, Ops: ops, Digest: dg, ScenarioYAML: string(yaml)})
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
